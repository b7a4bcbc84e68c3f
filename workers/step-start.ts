/**
 * What a step checks as it starts, in one Redis round trip: has its run failed
 * or been cancelled, what did its dependencies return (tree children, gates,
 * and shared dependencies it awaits), and are the awaited ones done yet.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CANCELLED_REASON, SKIPPED_PREFIX, type StepJobData } from '../common/jobs.js';
import { RUNS_QUEUE, jobKey, runMetaKey } from '../common/names.js';
import { OUTCOME_LUA, outcomeKeys, recheckDelay, waitAgain, type Outcome } from './waiting.js';

/**
 * KEYS: runs failed zset, run meta hash, this job's processed hash, then per
 * awaited job: its hash, its queue's completed and failed zsets.
 * ARGV: root job id, then the awaited job ids.
 */
const START_LUA = `${OUTCOME_LUA}
local out = {}
out[1] = redis.call('ZSCORE', KEYS[1], ARGV[1]) and 1 or 0
out[2] = redis.call('HEXISTS', KEYS[2], 'cancelled')
out[3] = redis.call('HGETALL', KEYS[3])
local awaited = {}
for i = 2, #ARGV do
  local k = 4 + (i - 2) * 3
  awaited[#awaited + 1] = outcome(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[i])
end
out[4] = awaited
return out`;

type StartReply = [0 | 1, 0 | 1, string[], Outcome[]];

async function read(connection: Redis, prefix: string, job: Job<StepJobData>): Promise<StartReply> {
  const d = job.data;
  const awaits = d.awaits ?? [];
  const keys = [
    `${prefix}:${RUNS_QUEUE}:failed`,
    runMetaKey(prefix, d.runId),
    `${jobKey(prefix, job.queueName, job.id!)}:processed`,
    ...awaits.flatMap((a) => outcomeKeys(prefix, a)),
  ];
  return (await connection.eval(START_LUA, keys.length, ...keys, d.root, ...awaits.map((a) => a.jobId))) as StartReply;
}

/**
 * Returns the dependencies' outputs by step id, or throws: UnrecoverableError
 * when the step must not run (run failed or cancelled, a dependency failed),
 * DelayedError after re-delaying a step whose awaited dependencies are unfinished.
 */
export async function startStep(connection: Redis, prefix: string, job: Job<StepJobData>, token?: string): Promise<Record<string, unknown>> {
  const d = job.data;
  const [runFailed, cancelled, processed, outcomes] = await read(connection, prefix, job);
  if (cancelled) throw new UnrecoverableError(CANCELLED_REASON);
  // a failed dependency is the precise reason (the run has usually failed because of it)
  const awaits = d.awaits ?? [];
  const failedDep = outcomes.findIndex((o) => o[0] === 'failed');
  if (failedDep >= 0) throw new UnrecoverableError(`${SKIPPED_PREFIX}dependency ${awaits[failedDep]!.stepId} failed`);
  if (runFailed) throw new UnrecoverableError(`${SKIPPED_PREFIX}run ${d.runId} already failed`);
  const deps: Record<string, unknown> = {};
  for (let i = 0; i < processed.length; i += 2) {
    const key = processed[i]!;
    const stepId = d.deps[key.slice(key.lastIndexOf(':') + 1)];
    if (stepId !== undefined) deps[stepId] = JSON.parse(processed[i + 1]!) as unknown;
  }
  let pending = false;
  outcomes.forEach((o, i) => {
    const dep = awaits[i]!.stepId;
    if (o[0] === 'missing') throw new UnrecoverableError(`dependency ${dep} is missing (job ${awaits[i]!.jobId} was removed)`);
    if (o[0] === 'completed') deps[dep] = JSON.parse(o[1]) as unknown;
    else pending = true;
  });
  if (!pending) return deps;
  return waitAgain(job, token, recheckDelay(job.attemptsStarted), async () => (await read(connection, prefix, job))[3].every((o) => o[0] !== 'pending'));
}
