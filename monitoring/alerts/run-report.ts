/**
 * What an alert says about a failed run, read from Redis: the run's data, the
 * step that failed by itself (not one skipped because a dependency or the run
 * failed), its attempts, error and last log lines.
 */
import type { Redis } from 'ioredis';
import type { RunJobData } from '../../common/jobs.js';
import { RUNS_QUEUE, jobKey } from '../../common/names.js';
import { pipelineOfRun } from '../../flows/index.js';
import { runIdOfRoot } from '../runs.js';
import { isSecondaryFailure } from '../tally.js';

export interface RunFailure {
  pipeline: string;
  runId: string;
  logicalTime: string;
  /** When the run failed (ms). */
  failedAt: number;
  /** The step that failed; undefined when none is found (the run itself failed). */
  step?: string;
  attempts: number;
  error: string;
  /** Last lines of the failed step's log, oldest first. */
  logLines: string[];
}

export const LOG_LINES = 10;

function parseData(raw: string | null | undefined): RunJobData | undefined {
  try {
    return raw ? (JSON.parse(raw) as RunJobData) : undefined;
  } catch {
    return undefined;
  }
}

/** The failure of the run whose root job (`<runId>`, or `<runId>~<attempt>` for a retry) failed. */
export async function readRunFailure(redis: Redis, prefix: string, rootJobId: string, now = Date.now()): Promise<RunFailure> {
  const [rawData, finishedOn, rootReason] = await redis.hmget(jobKey(prefix, RUNS_QUEUE, rootJobId), 'data', 'finishedOn', 'failedReason');
  const data = parseData(rawData);
  const base = {
    pipeline: data?.pipeline ?? pipelineOfRun(rootJobId),
    runId: data?.runId ?? runIdOfRoot(rootJobId),
    logicalTime: data?.logicalTime ?? '',
    failedAt: Number(finishedOn) || now,
  };
  const steps = await Promise.all(
    (data?.steps ?? []).map(async (s) => {
      const key = jobKey(prefix, s.queue, s.jobId);
      const [reason, attempts, finished] = await redis.hmget(key, 'failedReason', 'atm', 'finishedOn');
      const failed = (await redis.zscore(`${prefix}:${s.queue}:failed`, s.jobId)) !== null;
      return { s, key, reason: reason ?? '', attempts: Number(attempts) || 0, finished: Number(finished) || 0, failed };
    }),
  );
  const culprit = steps
    .filter((x) => x.failed && !isSecondaryFailure(x.reason))
    .sort((a, b) => a.finished - b.finished)[0];
  if (!culprit) return { ...base, attempts: 0, error: rootReason ?? 'unknown', logLines: [] };
  const logLines = await redis.lrange(`${culprit.key}:logs`, -LOG_LINES, -1);
  return { ...base, step: culprit.s.id, attempts: culprit.attempts, error: culprit.reason, logLines };
}
