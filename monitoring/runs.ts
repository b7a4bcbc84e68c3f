/** Run identity as monitoring needs it: the logical run of a root job, and whether the run was cancelled. */
import type { Redis } from 'ioredis';
import { runMetaKey } from '../common/names.js';

/** The run id of a root job: `<runId>`, or `<runId>~<attempt>` for a retry. */
export function runIdOfRoot(rootJobId: string): string {
  return rootJobId.replace(/~\d+$/, '');
}

/** A run cancelled on purpose ends failed in BullMQ; it is neither a failure to alert on nor to count as one. */
export async function isCancelled(redis: Redis, prefix: string, runId: string): Promise<boolean> {
  return (await redis.hexists(runMetaKey(prefix, runId), 'cancelled')) === 1;
}
