/**
 * What gates, steps awaiting shared dependencies and admit jobs have in
 * common: they wait delayed for another job, are promoted when it ends, and
 * re-check on their own in case that promote was lost.
 */
import { DelayedError, type Job } from 'bullmq';
import { jobKey } from '../common/names.js';

/** How a job another one waits for ended, as `OUTCOME_LUA` reports it. */
export type Outcome = ['missing'] | ['completed', string] | ['failed', string] | ['pending'];

/**
 * Lua function `outcome(jobKey, completedKey, failedKey, jobId)`: the job's
 * end with its return value or failure reason, `pending`, or `missing`.
 * Included by the scripts that read outcomes (gates, step start).
 */
export const OUTCOME_LUA = `
local function outcome(job, completed, failed, id)
  if redis.call('EXISTS', job) == 0 then return {'missing'} end
  if redis.call('ZSCORE', completed, id) then return {'completed', redis.call('HGET', job, 'returnvalue') or 'null'} end
  if redis.call('ZSCORE', failed, id) then return {'failed', redis.call('HGET', job, 'failedReason') or ''} end
  return {'pending'}
end`;

/** The three keys `outcome` reads for a job. */
export function outcomeKeys(prefix: string, t: { queue: string; jobId: string }): [string, string, string] {
  return [jobKey(prefix, t.queue, t.jobId), `${prefix}:${t.queue}:completed`, `${prefix}:${t.queue}:failed`];
}

/** Re-check delays of a job waiting for an unfinished one: 2 s, 4 s, … capped at 60 s. */
export function recheckDelay(checks: number): number {
  return Math.min(60_000, 2_000 * 2 ** Math.min(checks, 5));
}

/**
 * Puts a waiting job back to delayed for `delayMs`, then looks again with
 * `ready`: a promote that landed while the job was active was refused, so it
 * promotes itself. Always throws BullMQ's DelayedError (the job is not failed).
 */
export async function waitAgain(job: Job, token: string | undefined, delayMs: number, ready: () => Promise<boolean>): Promise<never> {
  await job.moveToDelayed(Date.now() + delayMs, token);
  if (await ready()) await job.promote().catch(() => undefined);
  throw new DelayedError();
}
