/**
 * The serving store on a real Redis: an export becomes visible all at once,
 * the previous version gets a TTL, an export killed halfway (SIGKILL of the
 * exporting process) or aborted leaves readers on the previous complete
 * version, and a slower old export never replaces a newer one.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Breaker } from '../workers/backends/breaker.js';
import { readServing, servingBucket, servingKeys, ServingStore } from '../workers/backends/serving-store.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from './helpers/engine.js';

const prefix = uniquePrefix('serving');
const url = testRedisUrl();
let redis: Redis;
let breaker: Breaker;
let store: ServingStore;

const rows = (n: number, tag: string, from = 0) => Array.from({ length: n }, (_, i) => ({ key: `u${from + i}`, value: JSON.stringify({ tag, i: from + i }) }));

beforeAll(() => {
  redis = new Redis(url);
  breaker = new Breaker('serving-test');
  store = new ServingStore({ url, prefix, breaker });
});
afterAll(async () => {
  breaker.shutdown();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('serving store', () => {
  it('switches readers to a complete new version and expires the previous one', async () => {
    const first = await store.export({ namespace: 'a', previousTtlSeconds: 600, rows: (w) => w(rows(250, 'v1')) });
    expect(first).toEqual({ version: 1, previous: null, keys: 250 });
    expect(await readServing(redis, 'a', 'u42', prefix)).toEqual({ version: 1, value: JSON.stringify({ tag: 'v1', i: 42 }) });
    const k = servingKeys('a', prefix);
    expect(await redis.ttl(k.bucket(1, servingBucket('u42')))).toBe(-1); // persistent once current

    const seen: number[] = [];
    const second = await store.export({
      namespace: 'a',
      previousTtlSeconds: 600,
      rows: async (w) => {
        await w(rows(100, 'v2'));
        await w(rows(100, 'v2', 100));
      },
      onBatch: (n) => seen.push(n),
    });
    expect(second).toEqual({ version: 2, previous: 1, keys: 200 });
    expect(seen).toEqual([100, 200]);
    expect(await readServing(redis, 'a', 'u42', prefix)).toEqual({ version: 2, value: JSON.stringify({ tag: 'v2', i: 42 }) });
    expect(await readServing(redis, 'a', 'u249', prefix)).toEqual({ version: 2, value: null }); // only in v1
    const ttl = await redis.ttl(k.bucket(1, servingBucket('u42')));
    expect(ttl).toBeGreaterThan(500);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(await redis.ttl(k.meta(1))).toBeGreaterThan(500);
    expect(await redis.hgetall(k.meta(2))).toMatchObject({ keys: '200', buckets: '64' });
  });

  it('an export whose process is killed halfway leaves readers on the previous complete version', async () => {
    await store.export({ namespace: 'k', previousTtlSeconds: 600, rows: (w) => w(rows(500, 'complete')) });
    const module = fileURLToPath(new URL('../workers/backends/serving-store.ts', import.meta.url));
    const breakerModule = fileURLToPath(new URL('../workers/backends/breaker.ts', import.meta.url));
    const code = `
      import { ServingStore } from ${JSON.stringify(module)};
      import { Breaker } from ${JSON.stringify(breakerModule)};
      const store = new ServingStore({ url: ${JSON.stringify(url)}, prefix: ${JSON.stringify(prefix)}, breaker: new Breaker('child') });
      await store.export({
        namespace: 'k', previousTtlSeconds: 600,
        rows: async (write) => {
          for (let b = 0; b < 10000; b++) {
            await write(Array.from({ length: 100 }, (_, i) => ({ key: 'u' + (b * 100 + i), value: JSON.stringify({ tag: 'partial' }) })));
          }
        },
        onBatch: (n) => console.log('stored ' + n),
      });
      console.log('finished');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the child stored no batch within 20 s')), 20_000);
      lines.on('line', (line) => {
        if (line === 'stored 300') {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
        if (line === 'finished') reject(new Error('the export finished before it was killed'));
      });
    });
    expect(await exited).toBe('SIGKILL');

    const k = servingKeys('k', prefix);
    expect(await redis.get(k.current)).toBe('1');
    for (const key of ['u0', 'u150', 'u499']) {
      expect(await readServing(redis, 'k', key, prefix)).toEqual({ version: 1, value: JSON.stringify({ tag: 'complete', i: Number(key.slice(1)) }) });
    }
    expect(await readServing(redis, 'k', 'u600', prefix)).toEqual({ version: 1, value: null });
    // the half-written version 2 exists only with its staging TTL, so it cleans itself up
    const staged = k.bucket(2, servingBucket('u0'));
    expect(await redis.hget(staged, 'u0')).toBe(JSON.stringify({ tag: 'partial' }));
    expect(await redis.ttl(staged)).toBeGreaterThan(0);
    expect(await redis.exists(k.meta(2))).toBe(0);

    const next = await store.export({ namespace: 'k', previousTtlSeconds: 600, rows: (w) => w(rows(10, 'after')) });
    expect(next).toMatchObject({ version: 3, previous: 1 });
  });

  it('an aborted export is not switched to', async () => {
    await store.export({ namespace: 'ab', previousTtlSeconds: 600, rows: (w) => w(rows(5, 'kept')) });
    const ctl = new AbortController();
    const err = await store
      .export({
        namespace: 'ab',
        previousTtlSeconds: 600,
        signal: ctl.signal,
        rows: async (w) => {
          await w(rows(5, 'lost'));
          ctl.abort(new Error('step cancelled'));
          await w(rows(5, 'lost', 5));
        },
      })
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe('step cancelled');
    expect(await readServing(redis, 'ab', 'u1', prefix)).toEqual({ version: 1, value: JSON.stringify({ tag: 'kept', i: 1 }) });
  });

  it('an older export finishing after a newer one does not replace it', async () => {
    let releaseOld: () => void = () => undefined;
    const oldMayFinish = new Promise<void>((r) => (releaseOld = r));
    let oldStarted: () => void = () => undefined;
    const started = new Promise<void>((r) => (oldStarted = r));
    const old = store.export({
      namespace: 'race',
      previousTtlSeconds: 600,
      rows: async (w) => {
        await w(rows(3, 'old'));
        oldStarted();
        await oldMayFinish;
      },
    });
    await started;
    expect(await store.export({ namespace: 'race', previousTtlSeconds: 600, rows: (w) => w(rows(3, 'new')) })).toMatchObject({ version: 2 });
    releaseOld();
    await expect(old).rejects.toThrow('serving store: version 1 of race is older than the current 2; not switched');
    expect(await readServing(redis, 'race', 'u0', prefix)).toEqual({ version: 2, value: JSON.stringify({ tag: 'new', i: 0 }) });
  });
});
