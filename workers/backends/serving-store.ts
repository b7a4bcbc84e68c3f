/**
 * The serving store: keyed rows in a Redis of their own (not the queue Redis),
 * under versioned keys, so readers never see half an export.
 *
 *   serve:{ns}:current          the version readers use
 *   serve:{ns}:seq              last version number handed out
 *   serve:{ns}:v<N>:<bucket>    hashes holding version N (field = key, value = JSON)
 *   serve:{ns}:v<N>:meta        { keys, buckets, createdAt } once N is complete
 *
 * An export writes a new version in pipelined batches (its keys carry a TTL
 * while staging, so an abandoned export cleans itself up), then one Lua script
 * switches `current`, makes the new keys persistent and sets a TTL on the
 * previous version. A reader (`readServing`) resolves `current` and reads in
 * one script. `{ns}` is a hash tag: a namespace lives in one cluster slot.
 */
import { Redis } from 'ioredis';
import { StepError } from '../errors.js';
import type { Breaker } from './breaker.js';

/** Hashes per version; a reader computes the bucket with `servingBucket`. */
export const SERVING_BUCKETS = 64;

/** FNV-1a (32-bit) of the UTF-8 key, modulo SERVING_BUCKETS. */
export function servingBucket(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % SERVING_BUCKETS;
}

export function servingKeys(ns: string, prefix = 'serve') {
  const base = `${prefix}:{${ns}}`;
  return {
    base,
    current: `${base}:current`,
    seq: `${base}:seq`,
    version: (v: number) => `${base}:v${v}`,
    bucket: (v: number, b: number) => `${base}:v${v}:${b}`,
    meta: (v: number) => `${base}:v${v}:meta`,
  };
}

/**
 * KEYS: current. ARGV: base, new version, buckets, previous TTL (s), keys, createdAt.
 * Switches only forward (a slower, older export never replaces a newer one).
 */
const SWITCH = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local v = tonumber(ARGV[2])
if v <= cur then return {-1, cur} end
local n = tonumber(ARGV[3])
for b = 0, n - 1 do redis.call('PERSIST', ARGV[1] .. ':v' .. v .. ':' .. b) end
redis.call('HSET', ARGV[1] .. ':v' .. v .. ':meta', 'keys', ARGV[5], 'buckets', ARGV[3], 'createdAt', ARGV[6])
redis.call('SET', KEYS[1], v)
if cur > 0 then
  local ttl = tonumber(ARGV[4])
  local old = ARGV[1] .. ':v' .. cur
  local m = tonumber(redis.call('HGET', old .. ':meta', 'buckets') or ARGV[3])
  for b = 0, m - 1 do redis.call('EXPIRE', old .. ':' .. b, ttl) end
  redis.call('EXPIRE', old .. ':meta', ttl)
end
return {v, cur}
`;

/** KEYS: current. ARGV: base, bucket, key. Returns [version, value]. */
const READ = `
local v = redis.call('GET', KEYS[1])
if not v then return {false, false} end
return {v, redis.call('HGET', ARGV[1] .. ':v' .. v .. ':' .. ARGV[2], ARGV[3])}
`;

export interface ServingStoreOptions {
  url: string;
  /** First part of every key. @defaultValue serve */
  prefix?: string;
  breaker: Breaker;
  /** TTL of a version's keys while it is being written. @defaultValue 86400 */
  stagingTtlSeconds?: number;
}

export interface ExportSpec {
  namespace: string;
  /** Feeds rows in batches by calling `write` (e.g. `readBatches` over a file). */
  rows: (write: (batch: readonly { key: string; value: string }[]) => Promise<void>) => Promise<unknown>;
  previousTtlSeconds: number;
  signal?: AbortSignal;
  /** Called after each batch is stored (for progress). */
  onBatch?: (keysSoFar: number) => void;
}

export class ServingStore {
  constructor(private readonly opts: ServingStoreOptions) {}

  private async connect(): Promise<Redis> {
    const redis = new Redis(this.opts.url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 5000, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await this.opts.breaker.call(() => redis.connect());
    } catch (err) {
      redis.disconnect();
      if (err instanceof StepError) throw err;
      throw new StepError(`serving store at ${this.opts.url.replace(/\/\/[^@]*@/, '//***@')} does not answer: ${(err as Error).message}`, { cause: err });
    }
    return redis;
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.opts.breaker.call(async () => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof StepError) throw err;
        throw new StepError(`serving store ${what}: ${(err as Error).message}`, { cause: err });
      }
    });
  }

  /** Writes a new version and switches readers to it; returns it and the one it replaced. */
  async export(spec: ExportSpec): Promise<{ version: number; previous: number | null; keys: number }> {
    const k = servingKeys(spec.namespace, this.opts.prefix);
    const ttl = this.opts.stagingTtlSeconds ?? 86_400;
    const redis = await this.connect();
    try {
      const version = await this.call('version allocation', () => redis.incr(k.seq));
      let keys = 0;
      await spec.rows(async (batch) => {
        spec.signal?.throwIfAborted();
        const p = redis.pipeline();
        const touched = new Set<number>();
        for (const row of batch) {
          const b = servingBucket(row.key);
          touched.add(b);
          p.hset(k.bucket(version, b), row.key, row.value);
        }
        for (const b of touched) p.expire(k.bucket(version, b), ttl);
        const results = await this.call('batch write', () => p.exec());
        const failed = results?.find(([err]) => err);
        if (failed) throw new StepError(`serving store batch write: ${(failed[0] as Error).message}`);
        keys += batch.length;
        spec.onBatch?.(keys);
      });
      spec.signal?.throwIfAborted();
      const [now, prev] = (await this.call('switch', () =>
        redis.eval(SWITCH, 1, k.current, k.base, version, SERVING_BUCKETS, spec.previousTtlSeconds, keys, new Date().toISOString()),
      )) as [number, number];
      if (now === -1) throw new StepError(`serving store: version ${version} of ${spec.namespace} is older than the current ${prev}; not switched`, { retryable: false });
      return { version, previous: prev > 0 ? prev : null, keys };
    } finally {
      redis.disconnect();
    }
  }
}

/** Reads one key from the current version, atomically. */
export async function readServing(redis: Redis, namespace: string, key: string, prefix = 'serve'): Promise<{ version: number; value: string | null } | null> {
  const k = servingKeys(namespace, prefix);
  const [v, value] = (await redis.eval(READ, 1, k.current, k.base, servingBucket(key), key)) as [string | null, string | null];
  return v === null ? null : { version: Number(v), value };
}
