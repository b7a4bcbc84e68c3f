/** Reading a run and its steps back from Redis (for `runs show`, `run --wait`, views). */
import { Job, Queue } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { CANCELLED_REASON, SKIPPED_PREFIX, type RunJobData, type StepJobData } from '../common/jobs.js';
import { RUNS_QUEUE, jobKey, laneKeys, runIndexKey, runMetaKey } from '../common/names.js';

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

/** A step in a run summary: state, attempts and duration only. */
export type StepSummary = Pick<StepState, 'id' | 'status' | 'attempts' | 'durationMs'>;

/** A run as `RunReader.summaries` reads it: no params, outputs, errors or queue position. */
export interface RunSummary extends Pick<RunState, 'runId' | 'pipeline' | 'status' | 'trigger' | 'logicalTime' | 'createdAt' | 'finishedAt' | 'attempt'> {
  steps: StepSummary[];
}

/** Runs a pipeline; throws the first command error. */
async function exec<T>(pipeline: ChainableCommander): Promise<T[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value as T;
  });
}

/** The status of a step job in the failed set, from its failure reason. */
function failedStatus(reason: string | null | undefined): StepStatus {
  if (reason === CANCELLED_REASON) return 'cancelled';
  // BullMQ fails a parent whose child failed (failParentOnFailure) with "child <key> failed"
  return /^child .+ failed$/.test(reason ?? '') || reason?.startsWith(SKIPPED_PREFIX) ? 'skipped' : 'failed';
}

/** A run's status from its root job's end, the cancel mark, its steps and whether it waits for a slot. */
function runStatus(r: { completed: boolean; failed: boolean; cancelled: boolean; waiting: boolean; steps: readonly { status: StepStatus }[] }): RunStatus {
  if (r.cancelled) return r.completed || r.failed ? 'cancelled' : 'cancelling';
  if (r.completed) return 'succeeded';
  if (r.failed) return 'failed';
  if (r.steps.some((s) => s.status !== 'pending' && s.status !== 'queued')) return 'running';
  return r.waiting ? 'waiting' : 'queued';
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
    const status = runStatus({
      completed: rootState === 'completed',
      failed: rootState === 'failed',
      cancelled: meta.cancelled !== undefined,
      waiting: waitingBehind !== null,
      steps,
    });
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
        status = failedStatus(job.failedReason);
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

  /**
   * Many runs at once, for views listing runs (the dashboard's grid): three
   * pipelined round trips in all, reading job hashes and state sets directly.
   * A step's status is `get`'s, except that an unfinished step with a start
   * time counts as `running` (no scan of the active list) and a step waiting
   * delayed without attempts as `pending`. No outputs, errors or logs: use
   * `get` for one run in full. An unknown run id gives `undefined`.
   * `steps: false` (dots of recent runs) reads steps only of unfinished runs,
   * to tell running from queued, and returns every run with `steps: []`.
   */
  async summaries(runIds: readonly string[], opts: { steps?: boolean } = {}): Promise<(RunSummary | undefined)[]> {
    const withSteps = opts.steps ?? true;
    const r = this.connection;
    const p = this.prefix;
    const setKey = (queue: string, set: string): string => `${p}:${queue}:${set}`;
    const metas = await exec<[string | null, string | null]>(r.pipeline(runIds.map((id) => ['hmget', runMetaKey(p, id), 'root', 'cancelled'])));
    const roots = runIds.map((id, i) => metas[i]?.[0] ?? id);
    const rootReads = await exec<unknown>(
      r.pipeline(
        roots.flatMap((id) => [
          ['hmget', jobKey(p, RUNS_QUEUE, id), 'data', 'finishedOn'],
          ['zscore', setKey(RUNS_QUEUE, 'completed'), id],
          ['zscore', setKey(RUNS_QUEUE, 'failed'), id],
        ]),
      ),
    );
    const parsed = runIds.map((_, i) => {
      const [data, finishedOn] = rootReads[i * 3] as [string | null, string | null];
      return data ? { data: JSON.parse(data) as RunJobData, finishedOn, completed: rootReads[i * 3 + 1] !== null, failed: rootReads[i * 3 + 2] !== null } : undefined;
    });
    const PER_STEP = 5;
    const cmds: string[][] = [];
    const readSteps = parsed.map((root) => !!root && (withSteps || !(root.completed || root.failed)));
    for (const [i, root] of parsed.entries()) {
      if (!root || !readSteps[i]) continue;
      cmds.push(['zscore', laneKeys(p, root.data.lane ?? root.data.pipeline).pending, runIds[i]!]);
      for (const s of root.data.steps)
        cmds.push(
          ['hmget', jobKey(p, s.queue, s.jobId), 'processedOn', 'finishedOn', 'atm', 'failedReason'],
          ['zscore', setKey(s.queue, 'completed'), s.jobId],
          ['zscore', setKey(s.queue, 'failed'), s.jobId],
          ['zscore', setKey(s.queue, 'delayed'), s.jobId],
          ['zscore', setKey(s.queue, 'waiting-children'), s.jobId],
        );
    }
    const out = cmds.length ? await exec<unknown>(r.pipeline(cmds)) : [];
    let at = 0;
    return parsed.map((root, i) => {
      if (!root) return undefined;
      const waiting = readSteps[i] ? out[at++] !== null : false;
      const steps = (readSteps[i] ? root.data.steps : []).map((s): StepSummary => {
        const [processedOn, finishedOn, atm, failedReason] = out[at] as (string | null)[];
        const [completed, failed, delayed, children] = [1, 2, 3, 4].map((k) => out[at + k] !== null);
        at += PER_STEP;
        const attempts = Number(atm ?? 0);
        let status: StepStatus;
        if (completed) status = 'succeeded';
        else if (failed) status = failedStatus(failedReason);
        else if (delayed) status = attempts > 0 ? 'retrying' : 'pending';
        else if (processedOn && !finishedOn) status = 'running';
        else if (children) status = 'pending';
        else status = 'queued';
        const done = status === 'succeeded' || status === 'failed';
        return {
          id: s.id,
          status,
          attempts: status === 'skipped' ? 0 : attempts,
          ...(done && finishedOn && processedOn ? { durationMs: Number(finishedOn) - Number(processedOn) } : {}),
        };
      });
      const ended = root.completed || root.failed;
      const status = runStatus({ completed: root.completed, failed: root.failed, cancelled: metas[i]?.[1] != null, waiting, steps });
      return {
        runId: runIds[i]!,
        pipeline: root.data.pipeline,
        status,
        trigger: root.data.trigger,
        logicalTime: root.data.logicalTime,
        createdAt: root.data.createdAt,
        ...(ended && root.finishedOn ? { finishedAt: Number(root.finishedOn) } : {}),
        attempt: root.data.attempt ?? 1,
        steps: withSteps ? steps : [],
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
