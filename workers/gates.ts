/**
 * Gates: the fan-out edges of the DAG encoding (see flows/compile.ts). A gate
 * waits delayed; when the shared step finishes, its worker promotes the gates;
 * the gate then completes with the step's output (or fails if the step did).
 * A lost promote (a worker dying between the two) is healed by the gate's own
 * delayed re-check.
 */
import { DelayedError, Job, Queue, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { GateJobData } from '../common/jobs.js';
import { GATES_QUEUE, jobKey } from '../common/names.js';

const OUTCOME_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'completed', redis.call('HGET', KEYS[1], 'returnvalue') or 'null'} end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return {'failed', redis.call('HGET', KEYS[1], 'failedReason') or ''} end
return {'pending'}`;

type Outcome = ['missing'] | ['completed', string] | ['failed', string] | ['pending'];

/** Re-check delays of a gate whose step is unfinished: 2 s, 4 s, … capped at 60 s. */
export function recheckDelay(checks: number): number {
  return Math.min(60_000, 2_000 * 2 ** Math.min(checks, 5));
}

export function gateProcessor(connection: Redis, prefix: string) {
  const outcome = async (t: NonNullable<GateJobData['target']>): Promise<Outcome> => {
    const base = `${prefix}:${t.queue}`;
    return (await connection.eval(OUTCOME_LUA, 3, jobKey(prefix, t.queue, t.jobId), `${base}:completed`, `${base}:failed`, t.jobId)) as Outcome;
  };
  return async (job: Job<GateJobData>, token?: string): Promise<unknown> => {
    const { target } = job.data;
    if (!target) return job.data.value ?? null; // a step reused from an earlier attempt
    const first = await outcome(target);
    switch (first[0]) {
      case 'completed':
        return JSON.parse(first[1]) as unknown;
      case 'failed':
        throw new UnrecoverableError(`dependency ${target.stepId} failed: ${first[1]}`);
      case 'missing':
        throw new UnrecoverableError(`dependency ${target.stepId} is missing (job ${target.jobId} was removed)`);
      case 'pending': {
        await job.moveToDelayed(Date.now() + recheckDelay(job.attemptsStarted), token);
        // A promote that landed while this gate was active was refused: look again.
        const again = await outcome(target);
        if (again[0] !== 'pending') await job.promote().catch(() => undefined);
        throw new DelayedError();
      }
      default: {
        const never: never = first;
        throw new Error(`unexpected outcome ${String(never)}`);
      }
    }
  };
}

/** Promotes delayed jobs by id; one that is not delayed (already moving) is left alone. */
export async function promoteAll(queue: Queue, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => new Job(queue, 'promote', {}, {}, id).promote().catch(() => undefined)));
}

/** Promotes what waits for a finished step (on its completed and failed events): its gates and the steps awaiting it. */
export class Promoter {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new Queue(name, { connection: this.connection, prefix: this.prefix })));
    return q;
  }

  async after(data: { gates?: string[]; wakes?: { queue: string; jobId: string }[] }): Promise<void> {
    await Promise.all([
      data.gates?.length ? promoteAll(this.queue(GATES_QUEUE), data.gates) : undefined,
      ...(data.wakes ?? []).map((w) => promoteAll(this.queue(w.queue), [w.jobId])),
    ]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
