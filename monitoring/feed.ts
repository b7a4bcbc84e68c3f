/**
 * A feed of a queue's finished jobs (QueueEvents `completed` and `failed`),
 * resumed from the last event a consumer applied, so a restarted monitor
 * misses nothing still in the stream. Events are handled one at a time, in
 * stream order: consumers apply each event at most once across replicas by
 * advancing a cursor in Redis together with their writes (see tally.ts).
 */
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { ownedConnection } from '../common/redis.js';
import { keys } from './keys.js';

export interface FinishedEvent {
  queue: string;
  /** Stream id of the event (`<ms>-<seq>`). */
  id: string;
  event: 'completed' | 'failed';
  jobId: string;
  failedReason?: string;
}

export interface EventFeedOptions {
  redisUrl: string;
  /** Shared connection for reads. */
  connection: Redis;
  prefix: string;
  queue: string;
  /** Name of the consumer whose cursor the feed resumes from. */
  consumer: string;
  handle(event: FinishedEvent): Promise<void>;
  onError(err: Error, event?: FinishedEvent): void;
}

export interface EventFeed {
  readonly queue: string;
  /** Resolves when every event received so far has been handled. */
  idle(): Promise<void>;
  /** Resolves once this feed has handled the event with stream id `id` (or a later one). */
  through(id: string): Promise<void>;
  close(): Promise<void>;
}

/** Delays between tries of a handler that failed (e.g. Redis briefly unreachable); then the error is reported. */
const RETRY_DELAYS_MS = [100, 500, 2000];

async function withRetries(fn: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= RETRY_DELAYS_MS.length) throw err;
      await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[i]));
    }
  }
}

/** Stream ids `<ms>-<seq>` in order: negative when `a` is earlier than `b`. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

/** Where to start: after the consumer's cursor, else after the newest event now in the stream. */
async function startId(o: EventFeedOptions): Promise<string> {
  const cursor = await o.connection.hget(keys.cursor(o.prefix, o.consumer), o.queue);
  if (cursor) return cursor;
  const last = await o.connection.xrevrange(`${o.prefix}:${o.queue}:events`, '+', '-', 'COUNT', 1);
  return last[0]?.[0] ?? '0-0';
}

export async function startEventFeed(o: EventFeedOptions): Promise<EventFeed> {
  const start = await startId(o);
  const events = new QueueEvents(o.queue, { connection: ownedConnection(o.redisUrl), prefix: o.prefix, lastEventId: start });
  let chain: Promise<void> = Promise.resolve();
  /** Events up to the start were applied before this feed began (or predate every monitor). */
  let handled = start;
  let waiters: { id: string; resolve: () => void }[] = [];
  const push = (e: FinishedEvent): void => {
    chain = chain
      .then(() => withRetries(() => o.handle(e)))
      .catch((err: unknown) => o.onError(err as Error, e))
      .finally(() => {
        handled = e.id;
        const ready = waiters.filter((w) => compareIds(w.id, handled) <= 0);
        waiters = waiters.filter((w) => !ready.includes(w));
        for (const w of ready) w.resolve();
      });
  };
  events.on('completed', ({ jobId }, id) => push({ queue: o.queue, id, event: 'completed', jobId }));
  events.on('failed', ({ jobId, failedReason }, id) => push({ queue: o.queue, id, event: 'failed', jobId, failedReason }));
  events.on('error', (err) => o.onError(err));
  await events.waitUntilReady();
  return {
    queue: o.queue,
    idle: () => chain,
    through: (id) =>
      compareIds(id, handled) <= 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ id, resolve })),
    close: async () => {
      await events.close();
      await chain;
    },
  };
}
