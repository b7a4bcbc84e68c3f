/**
 * Creating runs: validate the request, compile the plan, add it with one
 * FlowProducer.add (the run root and every step, atomically), index it, and
 * trim old runs of the pipeline so Redis stays bounded.
 */
import { FlowProducer, Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RunJobData } from '../common/jobs.js';
import { RUNS_QUEUE, jobKey, runIndexKey } from '../common/names.js';
import {
  RunRequestError,
  compileRun,
  keyForTime,
  manualKey,
  resolveParams,
  runIdFor,
  type PipelineDefinition,
  type StepTypeCatalog,
} from '../flows/index.js';
import { flowTree } from './flow-tree.js';

export interface RunRequest {
  /** Params by name; strings are parsed into the declared type. */
  params?: Record<string, unknown>;
  /** Idempotency key: the same key never makes a second run. @defaultValue the logical time when given, else a fresh key */
  key?: string;
  /** Time the run stands for. @defaultValue now */
  logicalTime?: Date;
  /** @defaultValue 'manual' */
  trigger?: string;
}

export interface StartedRun {
  runId: string;
  /** False when a run with this key already existed (nothing was added). */
  created: boolean;
}

export interface RunsOptions {
  connection: Redis;
  prefix: string;
  pipelines: readonly PipelineDefinition[];
  catalog: StepTypeCatalog;
  keepRuns: number;
  runMaxAgeDays: number;
}

export class UnknownPipelineError extends RunRequestError {
  override name = 'UnknownPipelineError';
}

export class RunCreator {
  private readonly flows: FlowProducer;
  private readonly runsQueue: Queue;
  private readonly byId: Map<string, PipelineDefinition>;

  constructor(private readonly opts: RunsOptions) {
    this.flows = new FlowProducer({ connection: opts.connection, prefix: opts.prefix });
    this.runsQueue = new Queue(RUNS_QUEUE, { connection: opts.connection, prefix: opts.prefix });
    this.byId = new Map(opts.pipelines.map((p) => [p.id, p]));
  }

  pipeline(id: string): PipelineDefinition {
    const p = this.byId.get(id);
    if (!p) {
      const known = [...this.byId.keys()].sort();
      throw new UnknownPipelineError(`unknown pipeline "${id}" (known: ${known.join(', ') || 'none'})`);
    }
    return p;
  }

  async start(pipelineId: string, req: RunRequest = {}): Promise<StartedRun> {
    const pipeline = this.pipeline(pipelineId);
    const params = resolveParams(pipeline.id, pipeline.params, req.params);
    const logicalTime = req.logicalTime ?? new Date();
    if (Number.isNaN(logicalTime.getTime())) throw new RunRequestError('invalid logical time');
    const key = req.key ?? (req.logicalTime ? keyForTime(logicalTime) : manualKey());
    const runId = runIdFor(pipeline.id, key);
    const plan = compileRun(pipeline, { runId, pipeline: pipeline.id, params, logicalTime: logicalTime.toISOString() }, this.opts.catalog);
    const { connection, prefix } = this.opts;
    if ((await connection.exists(jobKey(prefix, RUNS_QUEUE, runId))) === 1) return { runId, created: false };
    const createdAt = Date.now();
    await this.flows.add(flowTree(plan, req.trigger ?? 'manual', createdAt));
    await connection.zadd(runIndexKey(prefix, pipeline.id), createdAt, runId);
    await this.trim(pipeline);
    return { runId, created: true };
  }

  /** Removes finished runs beyond the pipeline's retention (count and age), with all their jobs. */
  async trim(pipeline: PipelineDefinition): Promise<number> {
    const { connection, prefix } = this.opts;
    const index = runIndexKey(prefix, pipeline.id);
    const keep = pipeline.retention.keepRuns ?? this.opts.keepRuns;
    const maxAgeMs = (pipeline.retention.maxAgeDays ?? this.opts.runMaxAgeDays) * 86_400_000;
    const [overflow, old] = await Promise.all([
      connection.zrange(index, 0, String(-keep - 1)),
      connection.zrangebyscore(index, '-inf', Date.now() - maxAgeMs),
    ]);
    let removed = 0;
    for (const runId of new Set([...overflow, ...old])) {
      const job = await Job.fromId<RunJobData>(this.runsQueue, runId);
      if (job) {
        const state = await job.getState();
        if (state !== 'completed' && state !== 'failed') continue;
        try {
          await job.remove({ removeChildren: true });
        } catch {
          continue; // a step of a failed run still holds its lock: next trim takes it
        }
      }
      await connection.zrem(index, runId);
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {
    await Promise.all([this.flows.close(), this.runsQueue.close()]);
  }
}
