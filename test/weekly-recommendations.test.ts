/**
 * The weekly-recommendations pipeline end to end on the embedded backends
 * (DuckDB, a local object store, the model registry in it, the serving store
 * on the test Redis), through real workers: every step succeeds, the outputs
 * are where they should be, and a second week publishes version 2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackendConfig } from '../common/backend-config.js';
import weekly from '../pipelines/weekly-recommendations/pipeline.js';
import { createBackends, type Backends } from '../workers/backends/index.js';
import { readServing } from '../workers/backends/serving-store.js';
import { builtinRegistry } from '../workers/builtin.js';
import { createEngine, deletePrefix, testRedisUrl, uniquePrefix, type TestEngine } from './helpers/engine.js';
import { torchSkipReason } from './helpers/torch.js';

const skip = await torchSkipReason();
if (skip) console.warn(`SKIPPED weekly-recommendations: ${skip}`);

describe.skipIf(skip !== undefined)('weekly-recommendations', () => {
  let dir: string;
  let engine: TestEngine;
  let backends: Backends;
  let serving: Redis;
  const servingPrefix = uniquePrefix('weekly-serve');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bullpen-weekly-'));
    backends = createBackends(
      loadBackendConfig({ duckdbPath: join(dir, 'w.duckdb'), localStoreDir: join(dir, 'objects'), servingRedisUrl: testRedisUrl(), servingPrefix, python: '/usr/bin/python3' }, {}),
    );
    engine = await createEngine({ label: 'weekly', pipelines: [weekly], registry: builtinRegistry([weekly], backends) });
    await engine.worker({ pool: 'cpu' });
    await engine.worker({ pool: 'gpu' });
    serving = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    await engine?.close();
    await backends?.close();
    if (serving) {
      await deletePrefix(serving, servingPrefix);
      await serving.quit();
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every step to success and leaves outputs in the warehouse, registry and serving store', async () => {
    const { runId } = await engine.runs.start('weekly-recommendations', { params: { users: 600, items: 160, epochs: 8 }, logicalTime: new Date('2026-11-30T05:00:00Z') });
    const run = await engine.watcher.wait(runId, 120_000);
    const failed = run.steps.filter((s) => s.status !== 'succeeded').map((s) => `${s.id}: ${s.status} ${s.error ?? ''}`);
    expect(failed).toEqual([]);
    expect(run.status).toBe('succeeded');
    const out = Object.fromEntries(run.steps.map((s) => [s.id, s.output as Record<string, unknown>]));
    expect(out.seed!.rows).toEqual([{ interactions: 15_000, users: 600, items: 160 }]);
    expect(out.extract).toMatchObject({ format: 'ndjson', rows: 15_000 });
    expect(out.train).toMatchObject({ device: 'cpu' });
    const metrics = (out.train as { metrics: Record<string, number> }).metrics;
    expect(metrics.recall_at_10).toBeGreaterThan(metrics.random_recall_at_k!);
    expect(out.publish).toMatchObject({ model: 'weekly-recs-mf', version: 1, promoted: true, aliasVersion: 1 });

    const wh = backends.warehouse();
    const recs = await wh.query('SELECT count(*) AS n, min(run_date) AS d, min(len(items)) AS k FROM recommendations', {});
    expect(recs.rows).toEqual([{ n: 600, d: '2026-11-30', k: 10 }]);
    const prod = await backends.registry().get('weekly-recs-mf', 'production');
    expect(prod).toMatchObject({ version: 1, lineage: { pipeline: 'weekly-recommendations', runId, inputTables: ['interactions', 'training_examples'] } });
    expect(prod!.metrics.recall_at_10).toBe(metrics.recall_at_10);

    expect(out.serve).toMatchObject({ namespace: 'recs', version: 1, keys: 600, previousVersion: null });
    const served = await readServing(serving, 'recs', '7', servingPrefix);
    expect(served?.version).toBe(1);
    const value = JSON.parse(served!.value!) as { items: unknown[]; scores: unknown[] };
    expect(value.items).toHaveLength(10);
    expect(value.items.every((i) => typeof i === 'number')).toBe(true);
    expect(value.scores.every((s) => typeof s === 'number')).toBe(true);
  });

  it('a second week reuses the seeded data, publishes version 2, and replaces that day of recommendations on a rerun', async () => {
    const { runId } = await engine.runs.start('weekly-recommendations', { params: { users: 600, items: 160, epochs: 8 }, logicalTime: new Date('2026-12-07T05:00:00Z') });
    const run = await engine.watcher.wait(runId, 120_000);
    expect(run.steps.filter((s) => s.status !== 'succeeded').map((s) => `${s.id}: ${s.error ?? s.status}`)).toEqual([]);
    const out = Object.fromEntries(run.steps.map((s) => [s.id, s.output as Record<string, unknown>]));
    expect(out.seed!.rows).toEqual([{ interactions: 15_000, users: 600, items: 160 }]);
    expect(out.publish).toMatchObject({ version: 2 });
    const alias = (out.publish as { promoted: boolean; aliasVersion: number }).promoted ? 2 : 1;
    expect(out.publish).toMatchObject({ aliasVersion: alias });
    expect(out.serve).toMatchObject({ version: 2, previousVersion: 1 });
    const days = await backends.warehouse().query('SELECT run_date, count(*) AS n FROM recommendations GROUP BY run_date ORDER BY run_date', {});
    expect(days.rows).toEqual([
      { run_date: '2026-11-30', n: 600 },
      { run_date: '2026-12-07', n: 600 },
    ]);

    const rerun = await engine.runs.start('weekly-recommendations', { params: { users: 600, items: 160, epochs: 8 }, logicalTime: new Date('2026-12-07T05:00:00Z'), key: 'rerun' });
    const again = await engine.watcher.wait(rerun.runId, 120_000);
    expect(again.status).toBe('succeeded');
    expect(again.steps.find((s) => s.id === 'write_recs')?.output).toMatchObject({ rows: 600, replaced: 600 });
    const after = await backends.warehouse().query('SELECT run_date, count(*) AS n FROM recommendations GROUP BY run_date ORDER BY run_date', {});
    expect(after.rows).toEqual(days.rows);
  });
});
