/**
 * Queue and key names. Every queue of a run shares one prefix (by default the
 * hash tag `{bullpen}`), so a whole flow lives in one Redis Cluster slot.
 */
export type Pool = 'cpu' | 'gpu';
export const POOLS: readonly Pool[] = ['cpu', 'gpu'];

/** Queue holding one root job per run; it completes when every step has. */
export const RUNS_QUEUE = 'runs';
/** Queue of gate jobs: a fan-out edge from a shared step to a non-owning dependent. */
export const GATES_QUEUE = 'gates';

/** One queue per step type and pool, e.g. `step.shell@cpu`, `step.train@gpu`. */
export function stepQueue(type: string, pool: Pool): string {
  return `step.${type}@${pool}`;
}

export function parseStepQueue(queue: string): { type: string; pool: Pool } | undefined {
  const m = /^step\.(.+)@(cpu|gpu)$/.exec(queue);
  return m ? { type: m[1]!, pool: m[2] as Pool } : undefined;
}

/** Redis key of a job hash, as BullMQ lays it out. */
export function jobKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:${jobId}`;
}

/** Sorted set of a pipeline's run ids, scored by creation time (ms). */
export function runIndexKey(prefix: string, pipeline: string): string {
  return `${prefix}:bullpen:runs:${pipeline}`;
}
