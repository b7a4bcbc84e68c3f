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

/** Queue of admit jobs: a run waiting for a slot (maxActiveRuns) holds one, delayed. */
export const ADMISSION_QUEUE = 'admission';
/** Queue the job schedulers put schedule ticks on. */
export const TICKS_QUEUE = 'ticks';

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

/** Hash of a run's control fields: lane, roots of its attempts, cancelled. */
export function runMetaKey(prefix: string, runId: string): string {
  return `${prefix}:bullpen:run:${runId}`;
}

/** Set of paused pipeline ids. */
export function pausedKey(prefix: string): string {
  return `${prefix}:bullpen:paused`;
}

/** Hash: pipeline id → time (ms) of the last schedule tick handled. */
export function lastTickKey(prefix: string): string {
  return `${prefix}:bullpen:last-tick`;
}

/** Pub/sub channel announcing cancelled runs to every worker. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:bullpen:cancel`;
}

/** Admission keys of a lane: active run ids (set), waiting run ids by logical time (zset), limit. */
export function laneKeys(prefix: string, lane: string): { active: string; pending: string; limit: string } {
  const base = `${prefix}:bullpen:lane:${lane}`;
  return { active: `${base}:active`, pending: `${base}:pending`, limit: `${base}:limit` };
}
