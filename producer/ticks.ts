/**
 * Schedule ticks to runs. Each tick becomes at most one run whose logical time
 * is the tick's scheduled time and whose id comes from it, so retries, restarts
 * and replicas can never make two runs for one tick. Ticks missed while the
 * scheduler was down or the pipeline paused follow the pipeline's `catchup`.
 */
import type { Redis } from 'ioredis';
import { lastTickKey, pausedKey } from '../common/names.js';
import { keyForTime, latestTick, ticksBetween, type PipelineDefinition } from '../flows/index.js';
import type { RunCreator } from './runs.js';

/** A tick handled within this long of its time is on time (`catchup: none` still runs it). */
export const ON_TIME_MS = 5 * 60_000;
/** `catchup: all` creates at most this many runs at once. */
export const MAX_CATCHUP_RUNS = 1_000;

/** Records `ms` as the last tick handled, unless a later one already is. */
const ADVANCE = `
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return cur`;

export interface TickResult {
  pipeline: string;
  /** Ticks due since the last one handled (`all`), or the latest of them. */
  due: Date[];
  /** Run ids made for them (per the catch-up policy). */
  runs: string[];
  skipped: 'paused' | 'unscheduled' | undefined;
}

/** Which due ticks get a run, per policy. Pure. */
export function chooseTicks(policy: PipelineDefinition['catchup'], due: readonly Date[], now: Date): Date[] {
  const latest = due.at(-1);
  switch (policy) {
    case 'all':
      return [...due];
    case 'latest':
      return latest ? [latest] : [];
    case 'none':
      return latest && now.getTime() - latest.getTime() <= ON_TIME_MS ? [latest] : [];
    default: {
      const never: never = policy;
      throw new Error(`unknown catchup policy ${String(never)}`);
    }
  }
}

export class TickHandler {
  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly runs: RunCreator,
  ) {}

  /** Starts the pipeline's clock at `now` if it has none (a new schedule does not run its past). */
  async init(pipeline: string, now: Date): Promise<void> {
    await this.connection.hsetnx(lastTickKey(this.prefix), pipeline, now.getTime());
  }

  /**
   * Handles every tick due in (last handled, now]: makes the runs the policy
   * asks for and advances the pipeline's clock. `firedAt`, the time of the tick
   * that woke us, counts as due even if this clock runs a little behind.
   */
  async handle(pipeline: PipelineDefinition, now: Date, firedAt?: Date): Promise<TickResult> {
    const result: TickResult = { pipeline: pipeline.id, due: [], runs: [], skipped: undefined };
    if (!pipeline.schedule) return { ...result, skipped: 'unscheduled' };
    if ((await this.connection.sismember(pausedKey(this.prefix), pipeline.id)) === 1) return { ...result, skipped: 'paused' };
    const until = firedAt && firedAt > now ? firedAt : now;
    const lastMs = await this.connection.hget(lastTickKey(this.prefix), pipeline.id);
    const after = new Date(lastMs ? Number(lastMs) : until.getTime() - 1);
    let due: Date[];
    if (pipeline.catchup === 'all') {
      due = ticksBetween(pipeline.schedule, after, until, MAX_CATCHUP_RUNS);
    } else {
      const latest = latestTick(pipeline.schedule, after, until);
      due = latest ? [latest] : [];
    }
    result.due = due;
    for (const tick of chooseTicks(pipeline.catchup, due, until)) {
      const started = await this.runs.start(pipeline.id, { logicalTime: tick, key: keyForTime(tick), trigger: 'schedule' });
      result.runs.push(started.runId);
    }
    const latest = due.at(-1);
    if (latest) await this.connection.eval(ADVANCE, 1, lastTickKey(this.prefix), pipeline.id, latest.getTime());
    return result;
  }
}
