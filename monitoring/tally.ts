/**
 * The tally: turns finished jobs of the runs queue and the step queues into
 * counters and histograms in Redis. Every monitor replica runs one; each
 * event is applied once in all, because the writes and the consumer's cursor
 * move together in one script that refuses events at or before the cursor.
 * A restarted monitor resumes from the cursor (events stay in each queue's
 * stream, up to BullMQ's cap of about 10,000 per queue).
 */
import type { Redis } from 'ioredis';
import { CANCELLED_REASON, SKIPPED_PREFIX } from '../common/jobs.js';
import { RUNS_QUEUE, jobKey } from '../common/names.js';
import { pipelineOfRun } from '../flows/index.js';
import { startEventFeed, type EventFeed, type FinishedEvent } from './feed.js';
import { NEWER_LUA, keys } from './keys.js';
import { isCancelled, runIdOfRoot } from './runs.js';
import { LAST_SUCCESS, RUN_DURATION, RUNS_TOTAL, STEP_ATTEMPTS, STEP_DURATION, bucketIndex, field, type StoredDef } from './metric-defs.js';

const APPLY_LUA = `${NEWER_LUA}
if not newer(ARGV[2], redis.call('HGET', KEYS[1], ARGV[1])) then return 0 end
for i = 3, #ARGV, 3 do
  local op, f, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'c' then redis.call('HINCRBYFLOAT', KEYS[2], f, v)
  elseif op == 'h' then redis.call('HINCRBYFLOAT', KEYS[3], f, v)
  elseif op == 'm' then
    local cur = tonumber(redis.call('HGET', KEYS[4], f))
    if not cur or tonumber(v) > cur then redis.call('HSET', KEYS[4], f, v) end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

type Op = ['c' | 'h' | 'm', string, string];

/** A step job's pipeline and step, from its id `<pipeline>.<key>.<step>`; undefined for other jobs. */
export function stepOfJob(jobId: string): { pipeline: string; step: string } | undefined {
  const parts = jobId.split('.');
  return parts.length === 3 && parts.every((p) => p !== '') ? { pipeline: parts[0]!, step: parts[2]! } : undefined;
}

/** A step failed because of something else (its dependency, its run failing or being cancelled), not by itself. */
export function isSecondaryFailure(reason: string | undefined): boolean {
  const r = reason ?? '';
  return /^child .+ failed$/.test(r) || r.startsWith(SKIPPED_PREFIX) || r === CANCELLED_REASON;
}

function observe(def: StoredDef, labels: string[], seconds: number): Op[] {
  const base = field(def.name, labels);
  return [
    ['h', `${base}|b${bucketIndex(def.buckets!, seconds)}`, '1'],
    ['h', `${base}|sum`, String(seconds)],
    ['h', `${base}|count`, '1'],
  ];
}

export interface TallyOptions {
  redisUrl: string;
  connection: Redis;
  prefix: string;
  /** Step queues to follow (`step.<type>@<pool>`). */
  stepQueues: readonly string[];
  onError(err: Error): void;
}

export interface Tally {
  /** Resolves once every event received so far has been applied (or refused). */
  idle(): Promise<void>;
  /** Resolves once the feed of `queue` has handled the event `id` (or a later one). */
  through(queue: string, id: string): Promise<void>;
  close(): Promise<void>;
}

export async function startTally(o: TallyOptions): Promise<Tally> {
  const { connection, prefix } = o;
  const num = (v: string | null): number | undefined => (v === null ? undefined : Number(v));

  async function opsFor(e: FinishedEvent): Promise<Op[]> {
    const key = jobKey(prefix, e.queue, e.jobId);
    if (e.queue === RUNS_QUEUE) {
      const [created, finished] = (await connection.hmget(key, 'timestamp', 'finishedOn')).map(num);
      const pipeline = pipelineOfRun(e.jobId);
      const status =
        e.event === 'completed' ? 'succeeded' : (await isCancelled(connection, prefix, runIdOfRoot(e.jobId))) ? 'cancelled' : 'failed';
      const ops: Op[] = [['c', field(RUNS_TOTAL.name, [pipeline, status]), '1']];
      if (created !== undefined && finished !== undefined) ops.push(...observe(RUN_DURATION, [pipeline], Math.max(0, finished - created) / 1000));
      if (status === 'succeeded' && finished !== undefined) ops.push(['m', field(LAST_SUCCESS, [pipeline]), String(finished / 1000)]);
      return ops;
    }
    const labels = stepOfJob(e.jobId);
    if (!labels || (e.event === 'failed' && isSecondaryFailure(e.failedReason))) return [];
    const [started, finished, attempts] = (await connection.hmget(key, 'processedOn', 'finishedOn', 'atm')).map(num);
    const status = e.event === 'completed' ? 'succeeded' : 'failed';
    const ops: Op[] = [['c', field(STEP_ATTEMPTS.name, [labels.pipeline, labels.step, status]), '1']];
    if (attempts !== undefined && attempts > 1) ops.push(['c', field(STEP_ATTEMPTS.name, [labels.pipeline, labels.step, 'retried']), String(attempts - 1)]);
    if (started !== undefined && finished !== undefined) {
      ops.push(...observe(STEP_DURATION, [labels.pipeline, labels.step, status], Math.max(0, finished - started) / 1000));
    }
    return ops;
  }

  async function apply(e: FinishedEvent): Promise<void> {
    const ops = await opsFor(e);
    if (!ops.length) return;
    await connection.eval(
      APPLY_LUA,
      4,
      keys.cursor(prefix, 'tally'),
      keys.counters(prefix),
      keys.histograms(prefix),
      keys.maxima(prefix),
      e.queue,
      e.id,
      ...ops.flat(),
    );
  }

  const feeds: EventFeed[] = await Promise.all(
    [RUNS_QUEUE, ...o.stepQueues].map((queue) =>
      startEventFeed({
        redisUrl: o.redisUrl,
        connection,
        prefix,
        queue,
        consumer: 'tally',
        handle: apply,
        onError: (err, e) => o.onError(new Error(`tally: ${e ? `event ${e.id} of ${e.queue}: ` : ''}${err.message}`)),
      }),
    ),
  );
  return {
    idle: async () => {
      await Promise.all(feeds.map((f) => f.idle()));
    },
    through: async (queue, id) => {
      const feed = feeds.find((f) => f.queue === queue);
      if (!feed) throw new Error(`the tally does not follow queue ${queue}`);
      await feed.through(id);
    },
    close: async () => {
      await Promise.all(feeds.map((f) => f.close()));
    },
  };
}
