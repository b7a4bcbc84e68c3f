/**
 * The GCS object store with the real @google-cloud/storage client, pointed at
 * a local fake that records the requests: upload and download paths, the
 * `ifGenerationMatch: 0` precondition of exclusive writes, and the circuit
 * breaker opening after repeated GCS failures (failing fast without a
 * request), probing half-open, and closing after recovery.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Breaker, breakerSnapshots } from '../workers/backends/breaker.js';
import { GcsObjectStore } from '../workers/backends/gcs-store.js';
import { StepError } from '../workers/errors.js';
import { startFakeGcs, type FakeGcs } from './helpers/fake-gcs.js';

process.env.METADATA_SERVER_DETECTION = 'none';
let fake: FakeGcs;
let dir: string;
const breakers: Breaker[] = [];

function store(breaker: Breaker): GcsObjectStore {
  breakers.push(breaker);
  return new GcsObjectStore({ bucket: 'ml-data', breaker, client: { apiEndpoint: fake.endpoint, projectId: 'acme-ml', retryOptions: { autoRetry: false } } });
}

beforeAll(async () => {
  fake = await startFakeGcs('ml-data');
  dir = await mkdtemp(join(tmpdir(), 'bullpen-gcs-'));
});
afterAll(async () => {
  for (const b of breakers) b.shutdown();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.failNext(0);
});

describe('gcs object store', () => {
  it('uploads to the bucket under the key and downloads it back', async () => {
    const s = store(new Breaker('gcs-paths'));
    const src = join(dir, 'extract.parquet');
    await writeFile(src, Buffer.from([0x50, 0x41, 0x52, 0x31, 0x00, 0xff, 0x0d, 0x0a]));
    const uri = await s.upload(src, 'runs/weekly/run 1/extract/extract.parquet');
    expect(uri).toBe('gs://ml-data/runs/weekly/run 1/extract/extract.parquet');
    expect(fake.requests[0]).toMatchObject({ method: 'POST', path: '/upload/storage/v1/b/ml-data/o', query: { uploadType: 'multipart', name: 'runs/weekly/run 1/extract/extract.parquet' } });
    const local = await s.localCopy(uri, dir);
    expect(await readFile(local)).toEqual(await readFile(src));
    expect(fake.requests[1]).toMatchObject({ method: 'GET', path: '/storage/v1/b/ml-data/o/runs%2Fweekly%2Frun%201%2Fextract%2Fextract.parquet', query: { alt: 'media' } });
  });

  it('exclusive writes send ifGenerationMatch=0; the second writer gets false', async () => {
    const s = store(new Breaker('gcs-exclusive'));
    expect(await s.write('models/m/versions/000001.json', '{"v":1}', { ifAbsent: true })).toBe(true);
    expect(await s.write('models/m/versions/000001.json', '{"v":"other"}', { ifAbsent: true })).toBe(false);
    expect(fake.requests.map((r) => r.query.ifGenerationMatch)).toEqual(['0', '0']);
    expect(String(await s.read('models/m/versions/000001.json'))).toBe('{"v":1}');
    expect(await s.read('models/m/versions/000002.json')).toBeUndefined();
    expect(await s.list('models/m/')).toEqual(['models/m/versions/000001.json']);
  });

  it('rejects URIs of another bucket or scheme with a clear error', async () => {
    const s = store(new Breaker('gcs-uris'));
    await expect(s.localCopy('gs://other/x', dir)).rejects.toThrow('gs://other/x: not in the object store (expected gs://ml-data/…)');
    await expect(s.localCopy('file:///tmp/x', dir)).rejects.toThrow(StepError);
  });

  it('the breaker opens after repeated GCS failures, fails fast, probes half-open and closes after recovery', async () => {
    const breaker = new Breaker('gcs-breaker', { volume: 3, errorPercent: 50, resetMs: 300 });
    const s = store(breaker);
    fake.failNext(1000, 503);
    for (let i = 0; i < 3; i++) {
      const err = (await s.read('a.json').catch((e: unknown) => e)) as StepError;
      expect(err).toBeInstanceOf(StepError);
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/^GCS read of gs:\/\/ml-data\/a.json: .*injected failure 503/);
    }
    expect(breaker.state).toBe('open');
    expect(breakerSnapshots().find((b) => b.name === 'gcs-breaker')).toMatchObject({ state: 'open', failures: 3 });

    const sent = fake.requests.length;
    const fast = (await s.read('a.json').catch((e: unknown) => e)) as StepError;
    expect(fast.retryable).toBe(true);
    expect(fast.message).toMatch(/^circuit breaker "gcs-breaker" is open after repeated failures \(last: GCS read of gs:\/\/ml-data\/a.json: .*503/);
    expect(fake.requests.length).toBe(sent); // failed fast: no request

    fake.failNext(0); // GCS recovers
    await breaker.when('half-open', 5000);
    expect(await s.read('a.json')).toBeUndefined(); // the probe goes through (a 404 is a healthy answer)
    expect(breaker.state).toBe('closed');
    await s.write('a.json', 'ok');
    expect(String(await s.read('a.json'))).toBe('ok');
  });

  it('a failed half-open probe opens the breaker again', async () => {
    const breaker = new Breaker('gcs-reopen', { volume: 2, resetMs: 200 });
    const s = store(breaker);
    fake.failNext(1000, 500);
    await s.read('x').catch(() => undefined);
    await s.read('x').catch(() => undefined);
    expect(breaker.state).toBe('open');
    await breaker.when('half-open', 5000);
    await expect(s.read('x')).rejects.toMatchObject({ retryable: true });
    expect(breaker.state).toBe('open');
  });
});
