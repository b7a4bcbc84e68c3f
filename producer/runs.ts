/**
 * Creating runs: validate the request, compile the plan, take a place in the
 * pipeline's admission lane (maxActiveRuns), add the run with one
 * FlowProducer.add (root and every step, atomically; held behind an admit job
 * when it must wait), index it, and trim old runs so Redis stays bounded.
 */
import { FlowProducer, Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Admission, CREATE_GRACE_MS } from '../common/admission.js';
import type { RunJobData } from '../common/jobs.js';
import { RUNS_QUEUE, jobKey, runIndexKey, runMetaKey } from '../common/names.js';
import {
  RunRequestError,
  compileRun,
  keyForTime,
  manualKey,
  previousTick,
  resolveParams,
  runIdFor,
  type CompileOptions,
  type PipelineDefinition,
  type RunInfo,
  type RunPlan,
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
  /** Start of the run's data interval, when the caller knows it. @defaultValue the schedule's tick before logicalTime */
  dataIntervalStart?: Date;
  /** @defaultValue 'manual' */
  trigger?: string;
  /** Admission lane and its limit. @defaultValue the pipeline id and its maxActiveRuns */
  lane?: { id: string; limit: number };
  /** Skip trimming old runs (a batch trims once at its end). */
  skipTrim?: boolean;
}

export interface StartedRun {
  runId: string;
  /** False when a run with this key already existed (nothing was added). */
  created: boolean;
  /** True when the run waits for a slot (maxActiveRuns). */
  queued: boolean;
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

/** A run to add: its info, the attempt, and what an earlier attempt left to reuse. */
export interface AttemptSpec {
  pipeline: PipelineDefinition;
  run: RunInfo;
  attempt: number;
  trigger: string;
  lane: { id: string; limit: number };
  reuse?: Map<string, unknown>;
  reusedJobs?: Map<string, { jobId: string; queue: string }>;
}

export class RunCreator {
  private readonly flows: FlowProducer;
  private readonly runsQueue: Queue;
  private readonly byId: Map<string, PipelineDefinition>;
  readonly admission: Admission;

  constructor(private readonly opts: RunsOptions) {
    this.flows = new FlowProducer({ connection: opts.connection, prefix: opts.prefix });
    this.runsQueue = new Queue(RUNS_QUEUE, { connection: opts.connection, prefix: opts.prefix });
    this.byId = new Map(opts.pipelines.map((p) => [p.id, p]));
    this.admission = new Admission(opts.connection, opts.prefix);
  }

  get pipelines(): PipelineDefinition[] {
    return [...this.byId.values()];
  }

  pipeline(id: string): PipelineDefinition {
    const p = this.byId.get(id);
    if (!p) {
      const known = [...this.byId.keys()].sort();
      throw new UnknownPipelineError(`unknown pipeline "${id}" (known: ${known.join(', ') || 'none'})`);
    }
    return p;
  }

  /** The run info of a request: params resolved, run id derived, data interval from the schedule. */
  describe(pipeline: PipelineDefinition, req: RunRequest): RunInfo {
    const params = resolveParams(pipeline.id, pipeline.params, req.params);
    const logicalTime = req.logicalTime ?? new Date();
    if (Number.isNaN(logicalTime.getTime())) throw new RunRequestError('invalid logical time');
    const key = req.key ?? (req.logicalTime ? keyForTime(logicalTime) : manualKey());
    const end = logicalTime.toISOString();
    const start =
      req.dataIntervalStart?.toISOString() ??
      (pipeline.schedule ? (previousTick(pipeline.schedule, logicalTime)?.toISOString() ?? end) : end);
    return { runId: runIdFor(pipeline.id, key), pipeline: pipeline.id, params, logicalTime: end, dataInterval: { start, end } };
  }

  async start(pipelineId: string, req: RunRequest = {}): Promise<StartedRun> {
    const pipeline = this.pipeline(pipelineId);
    const run = this.describe(pipeline, req);
    const plan = compileRun(pipeline, run, this.opts.catalog); // every input checked before anything is written
    const lane = req.lane ?? { id: pipeline.id, limit: pipeline.maxActiveRuns };
    const spec: AttemptSpec = { pipeline, run, attempt: 1, trigger: req.trigger ?? 'manual', lane };
    let added = await this.addAttempt(spec, { claim: true, plan });
    if (!added.claimed) {
      if (!(await this.abandoned(run.runId))) return { runId: run.runId, created: false, queued: false };
      added = await this.addAttempt(spec, { claim: false, plan });
    }
    if (!req.skipTrim && this.needsTrim(pipeline, added)) await this.trim(pipeline);
    return { runId: run.runId, created: true, queued: added.queued };
  }

  /** A claimed run whose root was never added (its creator died): it may be created again. */
  private async abandoned(runId: string): Promise<boolean> {
    const { connection, prefix } = this.opts;
    const [root, created] = await connection.hmget(runMetaKey(prefix, runId), 'root', 'created');
    if (!root || (await connection.exists(jobKey(prefix, RUNS_QUEUE, root)))) return false;
    return Number(created ?? 0) + CREATE_GRACE_MS < Date.now();
  }

  private needsTrim(pipeline: PipelineDefinition, added: { indexSize: number; oldestMs: number }): boolean {
    const keep = pipeline.retention.keepRuns ?? this.opts.keepRuns;
    const maxAgeMs = (pipeline.retention.maxAgeDays ?? this.opts.runMaxAgeDays) * 86_400_000;
    return added.indexSize > keep || added.oldestMs < Date.now() - maxAgeMs;
  }

  /**
   * Adds one attempt of a run: one call enters it in its lane (claim, control
   * hash, index, admission), then one FlowProducer.add adds it whole.
   */
  async addAttempt(
    spec: AttemptSpec,
    opts: { claim?: boolean; plan?: RunPlan } = {},
  ): Promise<{ claimed: boolean; queued: boolean; indexSize: number; oldestMs: number }> {
    const { connection, prefix } = this.opts;
    const { run, attempt, lane } = spec;
    const base = attempt === 1 ? run.runId : `${run.runId}~${attempt}`;
    const createdAt = Date.now();
    const entered = await this.admission.enter({
      lane: lane.id,
      limit: lane.limit,
      runId: run.runId,
      logicalMs: Date.parse(run.logicalTime),
      claim: opts.claim ?? false,
      meta: { root: base, lane: lane.id, created: createdAt, attempt, pipeline: run.pipeline },
      index: { key: runIndexKey(prefix, run.pipeline), score: createdAt },
    });
    if (!entered.claimed) return { ...entered, queued: false };
    const compileOpts: CompileOptions = { base, ...(spec.reuse ? { reuse: spec.reuse } : {}), admit: !entered.active };
    const reusable = opts.plan && entered.active && attempt === 1 && !spec.reuse;
    const plan = reusable ? opts.plan! : compileRun(spec.pipeline, run, this.opts.catalog, compileOpts);
    if (plan.admit) await connection.hset(runMetaKey(prefix, run.runId), 'admit', plan.admit.jobId);
    else if (attempt > 1) await connection.hdel(runMetaKey(prefix, run.runId), 'admit');
    await this.flows.add(
      flowTree(plan, {
        trigger: spec.trigger,
        createdAt,
        lane: lane.id,
        attempt,
        order: spec.pipeline.steps.map((s) => s.id),
        ...(spec.reusedJobs ? { reusedJobs: spec.reusedJobs } : {}),
      }),
    );
    const others = entered.admitted.filter((id) => id !== run.runId);
    // admitted while its flow was being added: wake it now rather than at its re-check
    if (!entered.active && (await this.admission.isActive(lane.id, run.runId))) others.push(run.runId);
    if (others.length) await this.admission.wake(others);
    return { claimed: true, queued: !entered.active, indexSize: entered.indexSize, oldestMs: entered.oldestMs };
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
      if (await this.removeRun(runId)) {
        await connection.zrem(index, runId);
        removed++;
      }
    }
    return removed;
  }

  /** Removes every attempt of a finished run; false when it is not finished (kept). */
  private async removeRun(runId: string): Promise<boolean> {
    const meta = runMetaKey(this.opts.prefix, runId);
    const attempts = Number((await this.opts.connection.hget(meta, 'attempt')) ?? 1);
    const roots = Array.from({ length: attempts }, (_, i) => (i === 0 ? runId : `${runId}~${i + 1}`)).reverse();
    for (const root of roots) {
      const job = await Job.fromId<RunJobData>(this.runsQueue, root);
      if (!job) continue;
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') return false;
      try {
        await job.remove({ removeChildren: true });
      } catch {
        return false; // a step of a failed run still holds its lock: the next trim takes it
      }
    }
    await this.opts.connection.del(meta);
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([this.flows.close(), this.runsQueue.close(), this.admission.close()]);
  }
}
