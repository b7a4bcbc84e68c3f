/**
 * The warehouse step types through real workers on DuckDB and the local
 * store: extract → load → query → write, files passed by reference between
 * steps; a SQL error fails the step with DuckDB's message and the statement;
 * a reference to a step that is not a dependency is a clear error.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, step, warehouseExtract, warehouseLoad, warehouseQuery, warehouseWrite } from '../flows/index.js';
import type { Backends } from '../workers/backends/index.js';
import { builtinRegistry } from '../workers/builtin.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { localBackends } from './helpers/step-context.js';

const setup = step('setup', warehouseQuery, {
  sql: ['CREATE OR REPLACE TABLE events AS SELECT range % 5 AS user_id, range AS item_id, range * 1.5 AS score FROM range(20)'],
});
const extract = step('extract', warehouseExtract, ({ params }) => ({ sql: 'SELECT * FROM events WHERE item_id < @limit', params: { limit: Number(params.limit) } }), { dependsOn: [setup] });
const load = step('load', warehouseLoad, { table: 'copy.events', files: { from: 'extract' }, writeDisposition: 'truncate' }, { dependsOn: [extract] });
const agg = step(
  'agg',
  warehouseQuery,
  { sql: 'SELECT user_id, list(item_id ORDER BY item_id) AS items, sum(score) AS total FROM copy.events GROUP BY user_id ORDER BY user_id', destination: { table: 'per_user', writeDisposition: 'truncate' } },
  { dependsOn: [load] },
);
const dump = step('dump', warehouseExtract, { sql: 'SELECT * FROM per_user', format: 'ndjson' }, { dependsOn: [agg] });
const write = step(
  'write',
  warehouseWrite,
  ({ logicalTime }) => ({ table: 'out.per_user_daily', from: { from: 'dump' }, columns: { user_id: 'BIGINT', items: 'BIGINT[]', total: 'DOUBLE' }, partition: { column: 'day', value: logicalTime.slice(0, 10) } }),
  { dependsOn: [dump] },
);
const chain = definePipeline({ id: 'wh-chain', params: { limit: { type: 'int', default: 10 } }, steps: [setup, extract, load, agg, dump, write] });

// the day's rows already in a table whose user_id is INTEGER; the new file's user_id cannot be one
const atomicSetup = step('setup', warehouseQuery, {
  sql: [
    'CREATE SCHEMA IF NOT EXISTS out',
    'CREATE OR REPLACE TABLE out.atomic_w (user_id INTEGER, day VARCHAR)',
    "INSERT INTO out.atomic_w VALUES (1, '2026-12-01'), (2, '2026-12-01')",
    "CREATE OR REPLACE TABLE atomic_src AS SELECT 'not-a-number' AS user_id",
  ],
});
const atomicDump = step('dump', warehouseExtract, { sql: 'SELECT * FROM atomic_src', format: 'ndjson' }, { dependsOn: [atomicSetup] });
const atomicWrite = step(
  'write',
  warehouseWrite,
  { table: 'out.atomic_w', from: { from: 'dump' }, columns: { user_id: 'VARCHAR' }, partition: { column: 'day', value: '2026-12-01' } },
  { dependsOn: [atomicDump] },
);
const atomic = definePipeline({ id: 'wh-atomic', steps: [atomicSetup, atomicDump, atomicWrite] });

const badSql = definePipeline({
  id: 'wh-bad-sql',
  steps: [step('broken', warehouseQuery, { sql: ['SELECT 1', 'SELECT no_such_column FROM range(3) WHERE range > @n'], params: { n: 1 } }, { retries: 2 })],
});
const badRef = definePipeline({
  id: 'wh-bad-ref',
  steps: [step('q', warehouseQuery, { sql: 'SELECT 1' }), step('load', warehouseLoad, { table: 't', files: { from: 'extract' }, writeDisposition: 'append' }, { dependsOn: ['q'] })],
});

let engine: TestEngine;
let backends: Backends;
let dir: string;
beforeAll(async () => {
  ({ backends, dir } = await localBackends());
  const pipelines = [chain, badSql, badRef, atomic];
  engine = await createEngine({ label: 'steps-wh', pipelines, registry: builtinRegistry(pipelines, backends) });
  await engine.worker();
});
afterAll(async () => {
  await engine?.close();
  await backends?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('warehouse steps', () => {
  it('a write whose insert fails leaves the partition as it was (one transaction)', async () => {
    const run = await engine.runToEnd('wh-atomic', {}, 30_000);
    expect(run.steps.map((s) => [s.id, s.status])).toEqual([['setup', 'succeeded'], ['dump', 'succeeded'], ['write', 'failed']]);
    expect(run.steps[2]!.error).toMatch(/not-a-number/);
    expect((await backends.warehouse().query('SELECT count(*) AS n FROM out.atomic_w', {})).rows).toEqual([{ n: 2 }]);
  });

  it('atomic statements are one transaction: a failing insert leaves the rows it would have replaced', async () => {
    const wh = backends.warehouse();
    const reset = ['CREATE OR REPLACE TABLE atomic_t (id INTEGER, day VARCHAR)', "INSERT INTO atomic_t VALUES (1, 'd1'), (2, 'd1')"];
    const replace = ['DELETE FROM atomic_t WHERE day = @day', "INSERT INTO atomic_t (id, day) SELECT 'not a number', 'd1'"];
    const count = async (): Promise<unknown> => (await wh.query('SELECT count(*) AS n FROM atomic_t', {})).rows;
    await wh.query(reset, {});
    await expect(wh.query(replace, { day: 'd1' }, { atomic: true })).rejects.toThrow(/not a number/);
    expect(await count()).toEqual([{ n: 2 }]);
    // the same statements without a transaction lose the partition: what warehouse.write must not do
    await expect(wh.query(replace, { day: 'd1' })).rejects.toThrow(/not a number/);
    expect(await count()).toEqual([{ n: 0 }]);
  });

  it('extract, load, query into a table, extract again and write, files by reference', async () => {
    const { runId } = await engine.runs.start('wh-chain', { logicalTime: new Date('2026-11-30T05:00:00Z') });
    const run = await engine.watcher.wait(runId, 30_000);
    expect(run.steps.filter((s) => s.status !== 'succeeded').map((s) => `${s.id}: ${s.error}`)).toEqual([]);
    const out = Object.fromEntries(run.steps.map((s) => [s.id, s.output as Record<string, unknown>]));
    expect(out.extract).toMatchObject({ format: 'parquet', rows: 10, uri: expect.stringMatching(new RegExp(`^file://.*/runs/wh-chain/${runId}/extract/extract.parquet$`)) });
    expect(out.load).toEqual({ table: 'copy.events', rows: 10, writeDisposition: 'truncate' });
    expect(out.agg).toEqual({ rows: [], rowCount: 5, statements: 1, destination: 'per_user' });
    expect(out.write).toEqual({ table: 'out.per_user_daily', rows: 5, replaced: 0 });
    const rows = await backends.warehouse().query('SELECT * FROM out.per_user_daily ORDER BY user_id LIMIT 2', {});
    expect(rows.rows).toEqual([
      { user_id: 0, items: [0, 5], total: 7.5, day: '2026-11-30' },
      { user_id: 1, items: [1, 6], total: 10.5, day: '2026-11-30' },
    ]);

    const again = await engine.runs.start('wh-chain', { logicalTime: new Date('2026-11-30T05:00:00Z'), key: 'again', params: { limit: 20 } });
    const second = await engine.watcher.wait(again.runId, 30_000);
    expect(second.steps.find((s) => s.id === 'write')?.output).toEqual({ table: 'out.per_user_daily', rows: 5, replaced: 5 });
    expect((await backends.warehouse().query('SELECT count(*) AS n, max(len(items)) AS k FROM out.per_user_daily', {})).rows).toEqual([{ n: 5, k: 4 }]);
  });

  it('a SQL error fails the step at once (no retries) with the warehouse message and the statement', async () => {
    const run = await engine.runToEnd('wh-bad-sql');
    expect(run.status).toBe('failed');
    expect(run.steps[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(run.steps[0]!.error).toMatch(/^DuckDB: Binder Error: Referenced column "no_such_column" not found/);
    expect(run.steps[0]!.error).toContain('in statement: SELECT no_such_column FROM range(3) WHERE range > @n');
  });

  it('a file reference to a step that is not a dependency names it', async () => {
    const run = await engine.runToEnd('wh-bad-ref');
    expect(run.steps.find((s) => s.id === 'load')?.error).toBe('input.files: "extract" is not a dependency of step load (add it to dependsOn; dependencies: q)');
  });
});
