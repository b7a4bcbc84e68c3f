/**
 * The durable outbox of one alert sink (Slack, PagerDuty): a Redis list,
 * sent in order by one replica at a time (a lease), each item removed only
 * once the sink has taken it. While the sink is down the items wait in Redis
 * and an opossum circuit breaker stops hammering it; permanent refusals (bad
 * channel, bad payload) go to a dead list so they cannot block the rest.
 * A replica that dies between a send and its removal makes the item go out
 * again when the next replica takes the lease (PagerDuty dedupes by key).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import CircuitBreaker from 'opossum';
import { keys } from '../keys.js';
import type { Log } from './redact.js';

export interface Sink {
  readonly name: string;
  send(body: unknown): Promise<void>;
  /** The sink refused this item for good: retrying it cannot help. */
  isPermanent(err: unknown): boolean;
}

export interface OutboxItem {
  /** What made it, for logs: `failure <runId>`, `recovery <pipeline>`, … */
  about: string;
  body: unknown;
}

export interface OutboxSenderOptions {
  connection: Redis;
  prefix: string;
  sink: Sink;
  log: Log;
  /** How often an idle sender looks for new items or for the lease. @defaultValue 500 */
  pollMs?: number;
  /** Lease of the sending replica; another takes over this long after it dies. @defaultValue 15000 */
  leaseMs?: number;
  /** Wait after a failed send before the next try. @defaultValue 2000 */
  retryMs?: number;
  /** A send slower than this fails. @defaultValue 10000 */
  timeoutMs?: number;
  /** An open breaker lets one try through after this long. @defaultValue 30000 */
  resetTimeoutMs?: number;
}

export interface OutboxSender {
  readonly breaker: CircuitBreaker<[unknown], void>;
  /** Items sent by this process. */
  readonly sent: number;
  /** Looks for new items now rather than at the next poll. */
  wake(): void;
  close(): Promise<void>;
}

const LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** Removes the head if it is still the item just handled; optionally keeps it in the dead list. */
const DONE_LUA = `
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LPOP', KEYS[1])
if ARGV[2] == 'dead' then redis.call('RPUSH', KEYS[2], ARGV[1]); redis.call('LTRIM', KEYS[2], -1000, -1) end
return 1`;

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function startOutboxSender(o: OutboxSenderOptions): OutboxSender {
  const { connection: redis, prefix, sink, log } = o;
  const pollMs = o.pollMs ?? 500;
  const retryMs = o.retryMs ?? 2000;
  const leaseMs = o.leaseMs ?? 15_000;
  const list = keys.outbox(prefix, sink.name);
  const token = randomBytes(8).toString('hex');
  const breaker = new CircuitBreaker<[unknown], void>((body) => sink.send(body), {
    name: sink.name,
    timeout: o.timeoutMs ?? 10_000,
    resetTimeout: o.resetTimeoutMs ?? 30_000,
    errorThresholdPercentage: 50,
    volumeThreshold: 3,
    errorFilter: (err) => sink.isPermanent(err),
  });
  breaker.on('open', () => log(`alerts: ${sink.name} breaker open: alerts wait in the outbox until ${sink.name} answers again`));
  breaker.on('close', () => log(`alerts: ${sink.name} breaker closed: sending again`));

  let closed = false;
  let sent = 0;
  let failing = false;
  let wakeUp: (() => void) | undefined;
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => done(), ms);
      const done = (): void => {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      };
      wakeUp = done;
    });

  /** One step of the loop; resolves with the pause to take before the next. */
  async function step(): Promise<number> {
    if ((await redis.eval(LEASE_LUA, 1, keys.lease(prefix, sink.name), token, leaseMs)) !== 1) return pollMs;
    const raw = await redis.lindex(list, 0);
    if (raw === null) return pollMs;
    let item: OutboxItem;
    try {
      item = JSON.parse(raw) as OutboxItem;
    } catch {
      await redis.eval(DONE_LUA, 2, list, keys.dead(prefix, sink.name), raw, 'dead');
      log(`alerts: ${sink.name}: unreadable outbox item moved to the dead list`);
      return 0;
    }
    try {
      await breaker.fire(item.body);
    } catch (err) {
      if (!breaker.opened && sink.isPermanent(err)) {
        await redis.eval(DONE_LUA, 2, list, keys.dead(prefix, sink.name), raw, 'dead');
        log(`alerts: ${sink.name} refused the alert (${item.about}) for good: ${describe(err)}; kept in ${keys.dead(prefix, sink.name)}`);
        return 0;
      }
      if (!failing) log(`alerts: ${sink.name} unavailable (${describe(err)}); the alert (${item.about}) waits in the outbox`);
      failing = true;
      return retryMs;
    }
    if (failing) log(`alerts: ${sink.name} answers again; sending the waiting alerts`);
    failing = false;
    await redis.eval(DONE_LUA, 2, list, '', raw, 'sent');
    sent++;
    return 0;
  }

  const loop = (async () => {
    while (!closed) {
      let wait: number;
      try {
        wait = await step();
      } catch (err) {
        log(`alerts: ${sink.name} outbox: ${describe(err)}`);
        wait = retryMs;
      }
      if (wait > 0 && !closed) await pause(wait);
    }
  })();

  return {
    breaker,
    get sent() {
      return sent;
    },
    wake: () => wakeUp?.(),
    close: async () => {
      closed = true;
      wakeUp?.();
      await loop;
      breaker.shutdown();
      await redis.eval(RELEASE_LUA, 1, keys.lease(prefix, sink.name), token).catch(() => undefined);
    },
  };
}
