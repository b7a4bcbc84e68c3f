/**
 * The model registry on the local object store: immutable numbered versions
 * with artifact, metrics, params and lineage; concurrent publishers get
 * distinct numbers; a retried step does not make a second version; promotion
 * rules; the local store's exclusive and atomic writes.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Breaker } from '../workers/backends/breaker.js';
import { LocalObjectStore } from '../workers/backends/local-store.js';
import { decidePromotion, ModelRegistry, type ModelVersion } from '../workers/backends/model-registry.js';

let dir: string;
let store: LocalObjectStore;
let registry: ModelRegistry;
const breaker = new Breaker('registry-test');
const lineage = (runId: string) => ({ pipeline: 'weekly', runId, stepId: 'publish', logicalTime: '2026-11-30T05:00:00.000Z', inputTables: ['events'] });

async function artifact(name: string, content: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bullpen-registry-'));
  store = new LocalObjectStore(join(dir, 'objects'));
  registry = new ModelRegistry(store, 'models/', breaker);
});
afterAll(async () => {
  breaker.shutdown();
  await rm(dir, { recursive: true, force: true });
});

describe('local object store', () => {
  it('writes if absent exactly once, reads, lists, and refuses keys that climb out', async () => {
    expect(await store.write('a/b.json', '1', { ifAbsent: true })).toBe(true);
    expect(await store.write('a/b.json', '2', { ifAbsent: true })).toBe(false);
    expect(String(await store.read('a/b.json'))).toBe('1');
    expect(await store.read('a/missing')).toBeUndefined();
    expect(await store.list('a/')).toEqual(['a/b.json']);
    await expect(store.write('../escape', 'x')).rejects.toThrow('invalid object key "../escape"');
    const uri = store.uri('a/b.json');
    expect(store.keyOf(uri)).toBe('a/b.json');
    expect(await readFile(await store.localCopy(uri), 'utf8')).toBe('1');
    await expect(store.localCopy(store.uri('a/none'))).rejects.toThrow('no such object');
  });
});

describe('model registry', () => {
  it('publishes immutable versions with artifact, metrics, params and lineage', async () => {
    const v1 = await registry.publish({ model: 'mf', artifactPath: await artifact('m1.pt', 'weights-1'), metrics: { recall: 0.2 }, params: { dim: 32 }, lineage: lineage('r1') });
    expect(v1).toMatchObject({ model: 'mf', version: 1, metrics: { recall: 0.2 }, params: { dim: 32 }, lineage: lineage('r1'), artifact: { name: 'm1.pt' } });
    expect(await readFile(fileURLToPath(v1.artifact.uri), 'utf8')).toBe('weights-1');
    const v2 = await registry.publish({ model: 'mf', artifactPath: await artifact('m2.pt', 'weights-2'), metrics: { recall: 0.1 }, params: {}, lineage: lineage('r2') });
    expect(v2.version).toBe(2);
    expect((await registry.versions('mf')).map((v) => v.version)).toEqual([1, 2]);
    expect(await registry.models()).toEqual(['mf']);
    expect((await registry.get('mf', 1))?.metrics).toEqual({ recall: 0.2 });
  });

  it('a retry of the same step with the same artifact returns the version it made', async () => {
    const path = await artifact('m3.pt', 'weights-3');
    const a = await registry.publish({ model: 'retry', artifactPath: path, metrics: { recall: 0.3 }, params: {}, lineage: lineage('r3') });
    const b = await registry.publish({ model: 'retry', artifactPath: path, metrics: { recall: 0.3 }, params: {}, lineage: lineage('r3') });
    expect(b.version).toBe(a.version);
    expect((await registry.versions('retry')).length).toBe(1);
  });

  it('concurrent publishers each get their own version number', async () => {
    const published = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => registry.publish({ model: 'race', artifactPath: await artifact(`r${i}.pt`, `w${i}`), metrics: { i }, params: {}, lineage: lineage(`run${i}`) })),
    );
    expect(published.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const stored = await registry.versions('race');
    expect(stored.map((v) => v.metrics.i).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('promotes to an alias and resolves it; unknown versions are refused', async () => {
    const rec = await registry.promote('mf', 1, 'production', 'first');
    expect(rec).toMatchObject({ alias: 'production', version: 1, previous: null });
    expect((await registry.get('mf', 'production'))?.version).toBe(1);
    expect(await registry.promote('mf', 2, 'production', 'manual')).toMatchObject({ version: 2, previous: 1 });
    expect(await registry.aliases('mf')).toMatchObject([{ alias: 'production', version: 2 }]);
    await expect(registry.promote('mf', 99, 'production', 'x')).rejects.toThrow('model mf has no version 99');
    expect(await registry.get('mf', 'staging')).toBeUndefined();
  });
});

describe('promotion rule', () => {
  const current = { version: 4, metrics: { recall: 0.2, loss: 0.5 } } as unknown as ModelVersion;
  it('needs the metric, the threshold, and (by default) to beat the current version', () => {
    expect(decidePromotion({ recall: 0.25 }, current, { metric: 'recall', threshold: 0.1 })).toEqual({ promote: true, reason: 'recall=0.25 (version 4: 0.2)' });
    expect(decidePromotion({ recall: 0.15 }, current, { metric: 'recall' })).toEqual({ promote: false, reason: 'recall=0.15 does not beat version 4 (0.2)' });
    expect(decidePromotion({ recall: 0.15 }, current, { metric: 'recall', beatCurrent: false })).toMatchObject({ promote: true });
    expect(decidePromotion({ recall: 0.05 }, undefined, { metric: 'recall', threshold: 0.1 })).toEqual({ promote: false, reason: 'recall=0.05 does not reach the threshold ≥ 0.1' });
    expect(decidePromotion({ recall: 0.05 }, undefined, { metric: 'recall' })).toEqual({ promote: true, reason: 'recall=0.05 (no current version)' });
    expect(decidePromotion({ loss: 0.4 }, current, { metric: 'loss', direction: 'min', threshold: 0.45 })).toMatchObject({ promote: true });
    expect(decidePromotion({ loss: 0.6 }, current, { metric: 'loss', direction: 'min' })).toMatchObject({ promote: false });
    expect(decidePromotion({ other: 1 }, current, { metric: 'recall' })).toEqual({ promote: false, reason: 'metric recall missing (have other)' });
  });
});
