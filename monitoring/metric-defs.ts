/**
 * The metrics Bullpen derives from job events and keeps in Redis (so every
 * replica reports the same value, and a restart loses nothing): names, help,
 * labels and histogram buckets, shared by the writer (tally.ts) and the
 * reader (stored-metrics.ts). Labels are bounded: pipeline, step, status,
 * outcome; never a run or job id.
 */
export interface StoredDef {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  labels: readonly string[];
  buckets?: readonly number[];
}

/** Step attempt durations, 50 ms to 4 h. */
const STEP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];
/** Run durations (creation to end), 1 s to 1 day. */
const RUN_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400];

export const RUNS_TOTAL: StoredDef = {
  name: 'bullpen_runs_total',
  help: 'Finished runs, by pipeline and final status (succeeded, failed, cancelled).',
  type: 'counter',
  labels: ['pipeline', 'status'],
};
export const RUN_DURATION: StoredDef = {
  name: 'bullpen_run_duration_seconds',
  help: 'Time from a run being created to its end (succeeded or failed).',
  type: 'histogram',
  labels: ['pipeline'],
  buckets: RUN_BUCKETS,
};
export const STEP_DURATION: StoredDef = {
  name: 'bullpen_step_duration_seconds',
  help: "Duration of a step's last attempt, by final status (succeeded, failed); skipped and cancelled steps are not counted.",
  type: 'histogram',
  labels: ['pipeline', 'step', 'status'],
  buckets: STEP_BUCKETS,
};
export const STEP_ATTEMPTS: StoredDef = {
  name: 'bullpen_step_attempts_total',
  help: 'Step attempts by outcome (succeeded, failed: the final failure, retried: a failed attempt that was retried), counted when the step finishes.',
  type: 'counter',
  labels: ['pipeline', 'step', 'outcome'],
};
/** Kept as a maximum, reported as a gauge. */
export const LAST_SUCCESS = 'bullpen_pipeline_last_success_timestamp_seconds';

export const STORED_DEFS: readonly StoredDef[] = [RUNS_TOTAL, RUN_DURATION, STEP_DURATION, STEP_ATTEMPTS];

/** Hash field of a series: `name|value|value…` (ids hold no `|`). */
export function field(name: string, values: readonly string[]): string {
  return [name, ...values].join('|');
}

/** Index of the bucket a value falls in (`buckets.length` for +Inf). */
export function bucketIndex(buckets: readonly number[], value: number): number {
  const i = buckets.findIndex((b) => value <= b);
  return i < 0 ? buckets.length : i;
}
