/**
 * Backfill: one run per schedule tick in a date range, keyed by the tick, so
 * running the same backfill twice creates nothing new. Runs go through
 * admission like any other (the pipeline's maxActiveRuns, or a backfill lane
 * of its own with `maxActive`), so a year of runs is queued in a second and
 * worked off in logical-time order.
 */
import { RunRequestError, keyForTime, previousTick, ticksBetween } from '../flows/index.js';
import type { RunCreator } from './runs.js';

/** A backfill may cover at most this many ticks. */
export const MAX_BACKFILL_TICKS = 10_000;
const PARALLEL = 16;

export interface BackfillOptions {
  from: Date;
  to: Date;
  /** Runs of this backfill active at once, in a lane of its own. @defaultValue the pipeline's lane and maxActiveRuns */
  maxActive?: number;
  params?: Record<string, unknown>;
  dryRun?: boolean;
  /** Called after each run is handled (created or found). */
  onProgress?: (done: number, total: number) => void;
}

export interface BackfillResult {
  pipeline: string;
  ticks: string[];
  created: string[];
  existing: string[];
}

export async function backfill(runs: RunCreator, pipelineId: string, opts: BackfillOptions): Promise<BackfillResult> {
  const pipeline = runs.pipeline(pipelineId);
  if (!pipeline.schedule) throw new RunRequestError(`pipeline ${pipeline.id} has no schedule: backfill enumerates its cron ticks`);
  if (Number.isNaN(opts.from.getTime()) || Number.isNaN(opts.to.getTime())) throw new RunRequestError('backfill needs valid --from and --to dates');
  if (opts.from > opts.to) {
    throw new RunRequestError(`--from ${opts.from.toISOString()} is after --to ${opts.to.toISOString()}`);
  }
  if (opts.maxActive !== undefined && !(Number.isInteger(opts.maxActive) && opts.maxActive >= 1)) {
    throw new RunRequestError(`--max-active must be a whole number ≥ 1, got ${opts.maxActive}`);
  }
  const ticks = ticksBetween(pipeline.schedule, new Date(opts.from.getTime() - 1), opts.to, MAX_BACKFILL_TICKS + 1);
  if (ticks.length > MAX_BACKFILL_TICKS) {
    throw new RunRequestError(`the range holds more than ${MAX_BACKFILL_TICKS} ticks of "${pipeline.schedule.cron}": split it`);
  }
  // the data interval of each run starts at the tick before it
  const before = ticks[0] ? previousTick(pipeline.schedule, ticks[0]) : undefined;
  const intervalStart = (i: number): Date | undefined => (i === 0 ? before : ticks[i - 1]);
  // every run is checked (params, inputs) before the first is created
  ticks.forEach((t, i) => {
    const start = intervalStart(i);
    runs.describe(pipeline, { ...(opts.params ? { params: opts.params } : {}), logicalTime: t, ...(start ? { dataIntervalStart: start } : {}) });
  });
  const result: BackfillResult = { pipeline: pipeline.id, ticks: ticks.map((t) => t.toISOString()), created: [], existing: [] };
  if (opts.dryRun) return result;
  const lane = opts.maxActive !== undefined ? { id: `${pipeline.id}~backfill`, limit: opts.maxActive } : undefined;
  let done = 0;
  const createOne = async (i: number): Promise<void> => {
    const tick = ticks[i]!;
    const start = intervalStart(i);
    const r = await runs.start(pipeline.id, {
      logicalTime: tick,
      ...(start ? { dataIntervalStart: start } : {}),
      key: keyForTime(tick),
      trigger: 'backfill',
      skipTrim: true,
      ...(opts.params ? { params: opts.params } : {}),
      ...(lane ? { lane } : {}),
    });
    (r.created ? result.created : result.existing).push(r.runId);
    opts.onProgress?.(++done, ticks.length);
  };
  // the first runs go one by one, so free slots go to the earliest ticks; the rest queue in parallel
  const first = Math.min(lane?.limit ?? pipeline.maxActiveRuns, ticks.length);
  for (let i = 0; i < first; i++) await createOne(i);
  let next = first;
  const worker = async (): Promise<void> => {
    while (next < ticks.length) await createOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, ticks.length - first) }, worker));
  await runs.trim(pipeline);
  return result;
}
