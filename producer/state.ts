/** Reading a run and its steps back from Redis (for `runs show`, `run --wait`, views). */
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CANCELLED_REASON, SKIPPED_PREFIX, type RunJobData, type StepJobData } from '../common/jobs.js';
import { RUNS_QUEUE, laneKeys, runIndexKey, runMetaKey } from '../common/names.js';

export type StepStatus =
  | 'pending'
  | 'queued'
  | 'running'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'cancelled'
  | 'missing';
/** `waiting`: held for a slot (maxActiveRuns); `cancelling`: cancelled, steps still winding down. */
export type RunStatus = 'waiting' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelling' | 'cancelled';

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
  dataInterval: { start: string; end: string };
  createdAt: number;
  finishedAt?: number;
  /** 1, or more after `retry`. */
  attempt: number;
  /** With status `waiting`: runs ahead of it in its lane. */
  waitingBehind?: number;
  steps: StepState[];
}

export function isFinished(status: RunStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
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
    const meta = await this.connection.hgetall(runMetaKey(this.prefix, runId));
    // state before job: a job read after its state is at least as new (a finished state has its finishedOn)
    const rootId = meta.root ?? runId;
    const rootState = await this.queue(RUNS_QUEUE).getJobState(rootId);
    const root = await Job.fromId<RunJobData>(this.queue(RUNS_QUEUE), rootId);
    if (!root) return undefined;
    const [steps, waitingBehind] = await Promise.all([
      Promise.all(root.data.steps.map((s) => this.step(s))),
      this.connection.zrank(laneKeys(this.prefix, root.data.lane ?? root.data.pipeline).pending, runId),
    ]);
    const ended = rootState === 'completed' || rootState === 'failed';
    const status: RunStatus =
      meta.cancelled !== undefined
        ? ended
          ? 'cancelled'
          : 'cancelling'
        : rootState === 'completed'
          ? 'succeeded'
          : rootState === 'failed'
            ? 'failed'
            : steps.some((s) => s.status !== 'pending' && s.status !== 'queued')
              ? 'running'
              : waitingBehind !== null
                ? 'waiting'
                : 'queued';
    return {
      runId,
      pipeline: root.data.pipeline,
      status,
      trigger: root.data.trigger,
      params: root.data.params,
      logicalTime: root.data.logicalTime,
      dataInterval: root.data.dataInterval ?? { start: root.data.logicalTime, end: root.data.logicalTime },
      createdAt: root.data.createdAt,
      ...(root.finishedOn ? { finishedAt: root.finishedOn } : {}),
      attempt: root.data.attempt ?? 1,
      ...(waitingBehind !== null ? { waitingBehind } : {}),
      steps,
    };
  }


  private async step(s: RunJobData['steps'][number]): Promise<StepState> {
    const base = { id: s.id, jobId: s.jobId, queue: s.queue, dependsOn: s.dependsOn };
    const state = await this.queue(s.queue).getJobState(s.jobId);
    const job = await Job.fromId(this.queue(s.queue), s.jobId);
    if (!job) return { ...base, status: 'missing', attempts: 0 };
    // BullMQ fails a parent whose child failed (failParentOnFailure) with "child <key> failed"
    const childKey = /^child (.+) failed$/.exec(job.failedReason ?? '')?.[1];
    const upstream = childKey === undefined ? undefined : ((job.data as StepJobData).deps?.[childKey.slice(childKey.lastIndexOf(':') + 1)] ?? childKey);
    let status: StepStatus;
    switch (state) {
      case 'completed':
        status = 'succeeded';
        break;
      case 'failed':
        status =
          job.failedReason === CANCELLED_REASON
            ? 'cancelled'
            : upstream !== undefined || job.failedReason?.startsWith(SKIPPED_PREFIX)
              ? 'skipped'
              : 'failed';
        break;
      case 'active':
        status = 'running';
        break;
      case 'waiting-children':
        status = 'pending';
        break;
      case 'delayed':
        // a step awaiting shared dependencies waits delayed until they finish
        status = job.attemptsMade > 0 ? 'retrying' : (job.data as StepJobData).awaits?.length ? 'pending' : 'queued';
        break;
      default:
        status = 'queued';
    }
    const finished = status === 'succeeded' || status === 'failed';
    return {
      ...base,
      status,
      attempts: status === 'skipped' ? 0 : job.attemptsMade,
      ...(job.processedOn && status !== 'skipped' ? { startedAt: job.processedOn } : {}),
      ...(finished && job.finishedOn ? { finishedAt: job.finishedOn } : {}),
      ...(finished && job.finishedOn && job.processedOn ? { durationMs: job.finishedOn - job.processedOn } : {}),
      ...(status === 'succeeded' ? { output: job.returnvalue } : {}),
      ...(upstream !== undefined
        ? { error: `dependency ${upstream} failed` }
        : job.failedReason && status !== 'succeeded'
          ? { error: status === 'skipped' ? job.failedReason.replace(SKIPPED_PREFIX, '') : job.failedReason }
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
