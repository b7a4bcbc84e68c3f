/**
 * Makes sure a Redis answers for the tests: REDIS_URL (default
 * redis://127.0.0.1:6379), or else a private redis-server this setup starts
 * and stops. Tests read the URL from BULLPEN_TEST_REDIS_URL.
 */
import { checkRedis } from '../../common/redis.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';

let own: PrivateRedis | undefined;

export async function setup(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  try {
    await checkRedis(url, 1000);
    process.env.BULLPEN_TEST_REDIS_URL = url;
  } catch {
    own = await startPrivateRedis();
    process.env.BULLPEN_TEST_REDIS_URL = own.url;
    console.log(`no Redis at ${url}: started a private redis-server at ${own.url}`);
  }
}

export async function teardown(): Promise<void> {
  await own?.stop();
}
