/** Reading a run and its steps back from Redis (for `runs show`, `run --wait`, views). */
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { SKIPPED_PREFIX, type RunJobData, type StepJobData } from '../common/jobs.js';
import { RUNS_QUEUE, runIndexKey } from '../common/names.js';

export type StepStatus = 'pending' | 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'missing';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface StepState {
  id: string;
  jobId: string;
  queue: string;
  dependsOn: string[];
  status: StepStatus;
  attempts: number;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  output?: unknown;
  error?: string;
}

export interface RunState {
  runId: string;
  pipeline: string;
  status: RunStatus;
  trigger: string;
  params: RunJobData['params'];
  logicalTime: string;
  createdAt: number;
  finishedAt?: number;
  steps: StepState[];
}

export function isFinished(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'failed';
}

export class RunReader {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, q);
    }
    return q;
  }

  async get(runId: string): Promise<RunState | undefined> {
    const root = await Job.fromId<RunJobData>(this.queue(RUNS_QUEUE), runId);
    if (!root) return undefined;
    const [rootState, steps] = await Promise.all([
      root.getState(),
      Promise.all(root.data.steps.map((s) => this.step(s))),
    ]);
    const status: RunStatus =
      rootState === 'completed'
        ? 'succeeded'
        : rootState === 'failed'
          ? 'failed'
          : steps.some((s) => s.status !== 'pending' && s.status !== 'queued')
            ? 'running'
            : 'queued';
    return {
      runId,
      pipeline: root.data.pipeline,
      status,
      trigger: root.data.trigger,
      params: root.data.params,
      logicalTime: root.data.logicalTime,
      createdAt: root.data.createdAt,
      ...(root.finishedOn ? { finishedAt: root.finishedOn } : {}),
      steps,
    };
  }

  private async step(s: RunJobData['steps'][number]): Promise<StepState> {
    const base = { id: s.id, jobId: s.jobId, queue: s.queue, dependsOn: s.dependsOn };
    const job = await Job.fromId(this.queue(s.queue), s.jobId);
    if (!job) return { ...base, status: 'missing', attempts: 0 };
    const state = await job.getState();
    // BullMQ fails a parent whose child failed (failParentOnFailure) with "child <key> failed"
    const childKey = /^child (.+) failed$/.exec(job.failedReason ?? '')?.[1];
    const upstream = childKey === undefined ? undefined : ((job.data as StepJobData).deps?.[childKey.slice(childKey.lastIndexOf(':') + 1)] ?? childKey);
    let status: StepStatus;
    switch (state) {
      case 'completed':
        status = 'succeeded';
        break;
      case 'failed':
        status = upstream !== undefined || job.failedReason?.startsWith(SKIPPED_PREFIX) ? 'skipped' : 'failed';
        break;
      case 'active':
        status = 'running';
        break;
      case 'waiting-children':
        status = 'pending';
        break;
      case 'delayed':
        status = job.attemptsMade > 0 ? 'retrying' : 'queued';
        break;
      default:
        status = 'queued';
    }
    const finished = status === 'succeeded' || status === 'failed';
    return {
      ...base,
      status,
      attempts: upstream !== undefined ? 0 : job.attemptsMade,
      ...(job.processedOn ? { startedAt: job.processedOn } : {}),
      ...(finished && job.finishedOn ? { finishedAt: job.finishedOn } : {}),
      ...(finished && job.finishedOn && job.processedOn ? { durationMs: job.finishedOn - job.processedOn } : {}),
      ...(status === 'succeeded' ? { output: job.returnvalue } : {}),
      ...(upstream !== undefined
        ? { error: `dependency ${upstream} failed` }
        : job.failedReason && status !== 'succeeded'
          ? { error: job.failedReason }
          : {}),
    };
  }

  /** Run ids of a pipeline, newest first. */
  async list(pipeline: string, limit = 20): Promise<string[]> {
    return this.connection.zrevrange(runIndexKey(this.prefix, pipeline), 0, limit - 1);
  }

  async logs(queue: string, jobId: string, count = 50): Promise<string[]> {
    const { logs } = await this.queue(queue).getJobLogs(jobId, -count, -1);
    return logs;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
