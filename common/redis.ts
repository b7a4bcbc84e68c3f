/** Redis connections: one factory so every process connects the same way. */
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * A connection fit for BullMQ workers and queues: blocking commands must never
 * be cut off by a retry limit (`maxRetriesPerRequest: null`).
 */
export function connect(url: string, opts: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...opts });
  // one line, not ioredis's unhandled-error stack; ioredis reconnects by itself
  redis.on('error', (err: Error) => console.error(`redis ${redactUrl(url)}: ${err.message}`));
  return redis;
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/**
 * Checks that Redis answers within `timeoutMs`, and warns about settings that
 * lose jobs in production (eviction).
 */
export async function checkRedis(url: string, timeoutMs = 2000): Promise<{ version: string; warnings: string[] }> {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    lazyConnect: true,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const warnings: string[] = [];
    const policy = (await redis.config('GET', 'maxmemory-policy').catch(() => [])) as string[];
    if (policy[1] && policy[1] !== 'noeviction') {
      warnings.push(`Redis maxmemory-policy is ${policy[1]}; set it to noeviction or jobs can be evicted`);
    }
    return { version, warnings };
  } catch (err) {
    throw new RedisUnavailableError(
      `Redis does not answer at ${redactUrl(url)} (${(err as Error).message}). ` +
        'Start one (Debian: apt-get install redis-server && redis-server --daemonize yes) ' +
        'or point BULLPEN_REDIS_URL at yours.',
    );
  } finally {
    redis.disconnect();
  }
}

/** A URL with its password hidden, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * Connection options for BullMQ objects that must own their connection
 * (workers and queue events block on theirs, and close it).
 */
export function ownedConnection(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null };
}

/** Every key matching a SCAN pattern (e.g. `{bullpen}:*`), without blocking Redis. */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key under a prefix (a test's or a benchmark's); returns how many. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  const keys = await scanKeys(redis, `${prefix}:*`);
  for (let i = 0; i < keys.length; i += 1000) deleted += await redis.del(...keys.slice(i, i + 1000));
  return deleted;
}
