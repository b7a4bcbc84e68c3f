/**
 * Gates: the fan-out edges of the DAG encoding (see flows/compile.ts). A gate
 * waits delayed; when the shared step finishes, its worker promotes the gates;
 * the gate then completes with the step's output (or fails if the step did).
 * A lost promote (a worker dying between the two) is healed by the gate's own
 * delayed re-check.
 */
import { Job, Queue, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { GateJobData } from '../common/jobs.js';
import { GATES_QUEUE } from '../common/names.js';
import { OUTCOME_LUA, outcomeKeys, recheckDelay, waitAgain, type Outcome } from './waiting.js';

const GATE_LUA = `${OUTCOME_LUA}
return outcome(KEYS[1], KEYS[2], KEYS[3], ARGV[1])`;

export function gateProcessor(connection: Redis, prefix: string) {
  const outcome = async (t: NonNullable<GateJobData['target']>): Promise<Outcome> => {
    return (await connection.eval(GATE_LUA, 3, ...outcomeKeys(prefix, t), t.jobId)) as Outcome;
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
      case 'pending':
        return waitAgain(job, token, recheckDelay(job.attemptsStarted), async () => (await outcome(target))[0] !== 'pending');
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
