/**
 * Admit jobs: a run that had to wait for a slot (maxActiveRuns) holds one,
 * delayed, under its first steps. When a run of its lane ends, the slot passes
 * to the next run in logical-time order and its admit job is promoted; the
 * admit job's own re-check (which also heals slots lost to crashed processes)
 * covers a lost promote. A cancelled run's admit job fails, ending the run.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Admission } from '../common/admission.js';
import { CANCELLED_REASON, type AdmitJobData } from '../common/jobs.js';
import { runMetaKey } from '../common/names.js';
import { waitAgain } from './waiting.js';

/** Re-checks of a waiting admit job: 10 s, 20 s, … capped at 60 s. */
export function admitRecheckDelay(checks: number): number {
  return Math.min(60_000, 10_000 * 2 ** Math.min(checks, 3));
}

export function admitProcessor(connection: Redis, prefix: string, admission: Admission) {
  return async (job: Job<AdmitJobData>, token?: string): Promise<unknown> => {
    const { runId, lane } = job.data;
    if ((await connection.hget(runMetaKey(prefix, runId), 'cancelled')) !== null) {
      throw new UnrecoverableError(CANCELLED_REASON);
    }
    if (await admission.isActive(lane, runId)) return { admittedAt: Date.now() };
    const admitted = await admission.heal(lane);
    await admission.wake(admitted.filter((id) => id !== runId));
    if (admitted.includes(runId)) return { admittedAt: Date.now() };
    return waitAgain(job, token, admitRecheckDelay(job.attemptsStarted), () => admission.isActive(lane, runId));
  };
}
