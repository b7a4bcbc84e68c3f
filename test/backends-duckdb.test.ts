/**
 * The DuckDB warehouse for real: named parameters bound (never spliced),
 * destinations with append/truncate, extracts to NDJSON and Parquet, loads
 * with the schema from the file or given, and SQL errors carrying DuckDB's
 * message and the statement.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbWarehouse } from '../workers/backends/duckdb.js';
import { describeFile, readBatches } from '../workers/backends/files.js';
import { scanSql, SqlError } from '../workers/backends/sql-text.js';

let dir: string;
let wh: DuckDbWarehouse;
const src = (path: string) => ({ uri: `file://${path}`, local: async () => path });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bullpen-duck-'));
  wh = new DuckDbWarehouse(join(dir, 'w.duckdb'));
  await wh.query("CREATE TABLE users AS SELECT range AS id, 'user ' || range AS name FROM range(10)", {});
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sql text', () => {
  it('splits statements and finds @params outside strings and comments', () => {
    const s = scanSql("SELECT '@not; a param' AS x, @a -- @b; not either\n; SELECT $c /* @d */, \"@e\"");
    expect(s.map((x) => x.params)).toEqual([['a'], ['c']]);
    expect(s[0]!.duckdb).toContain('$a');
    expect(s[0]!.text).toContain("'@not; a param'");
  });
});

describe('duckdb warehouse', () => {
  it('binds named parameters as values: a quote in a value is data, not SQL', async () => {
    const res = await wh.query('SELECT id, name FROM users WHERE id >= @min AND name <> @evil ORDER BY id', { min: 8, evil: "x' OR '1'='1" });
    expect(res.rows).toEqual([
      { id: 8, name: 'user 8' },
      { id: 9, name: 'user 9' },
    ]);
    const list = await wh.query('SELECT count(*) AS n FROM users WHERE list_contains(@ids, id)', { ids: [1, 2, 3] });
    expect(list.rows).toEqual([{ n: 3 }]);
  });

  it('writes the last statement into a destination: truncate replaces, append adds', async () => {
    const t = await wh.query(['CREATE TEMP TABLE ignored AS SELECT 1', 'SELECT id * 2 AS doubled FROM users WHERE id < @n'], { n: 5 }, { destination: { table: 'analytics.doubled', writeDisposition: 'truncate' } });
    expect(t).toMatchObject({ rowCount: 5, statements: 2 });
    await wh.query('SELECT id * 2 AS doubled FROM users WHERE id < @n', { n: 3 }, { destination: { table: 'analytics.doubled', writeDisposition: 'append' } });
    expect((await wh.query('SELECT count(*) AS n FROM analytics.doubled', {})).rows).toEqual([{ n: 8 }]);
    await wh.query('SELECT 42 AS doubled', {}, { destination: { table: 'analytics.doubled', writeDisposition: 'truncate' } });
    expect((await wh.query('SELECT doubled FROM analytics.doubled', {})).rows).toEqual([{ doubled: 42 }]);
  });

  it('extracts to NDJSON and Parquet files', async () => {
    const nd = join(dir, 'out', 'u.ndjson');
    expect(await wh.extractToFile('SELECT id, name FROM users WHERE id < @n ORDER BY id', { n: 3 }, nd, 'ndjson')).toEqual({ rows: 3 });
    expect((await readFile(nd, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { id: 0, name: 'user 0' },
      { id: 1, name: 'user 1' },
      { id: 2, name: 'user 2' },
    ]);
    const pq = join(dir, 'out', 'u.parquet');
    expect(await wh.extractToFile('SELECT id, name FROM users', {}, pq, 'parquet')).toEqual({ rows: 10 });
    expect(await describeFile(pq)).toEqual({ id: 'BIGINT', name: 'VARCHAR' });
    const seen: number[] = [];
    expect(await readBatches(pq, 4, async (rows) => void seen.push(rows.length))).toBe(10);
    expect(seen).toEqual([4, 4, 2]);
  });

  it('loads files: schema from the file, or given (cast), truncate or append', async () => {
    const nd = join(dir, 'out', 'u.ndjson');
    expect(await wh.load('staging.users', [src(nd)], { format: 'ndjson', writeDisposition: 'truncate' })).toEqual({ rows: 3 });
    expect(await wh.load('staging.users', [src(nd), src(nd)], { format: 'ndjson', writeDisposition: 'append' })).toEqual({ rows: 6 });
    expect((await wh.query('SELECT count(*) AS n FROM staging.users', {})).rows).toEqual([{ n: 9 }]);
    await wh.load('staging.typed', [src(join(dir, 'out', 'u.parquet'))], { format: 'parquet', writeDisposition: 'truncate', schema: { id: 'INT64', name: 'STRING' } });
    const cols = await wh.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'typed' ORDER BY column_name", {});
    expect(cols.rows).toEqual([
      { column_name: 'id', data_type: 'BIGINT' },
      { column_name: 'name', data_type: 'VARCHAR' },
    ]);
  });

  it('a SQL error carries DuckDB\'s message and the statement, and is not retryable', async () => {
    const err = (await wh.query(['SELECT 1', 'SELECT nope FROM users WHERE id = @id'], { id: 1 }).catch((e: unknown) => e)) as SqlError;
    expect(err).toBeInstanceOf(SqlError);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^DuckDB: Binder Error: .*nope/);
    expect(err.message).toContain('in statement: SELECT nope FROM users WHERE id = @id');
  });

  it('a missing parameter is named before anything runs', async () => {
    const err = (await wh.query('SELECT * FROM users WHERE id = @who', { whom: 1 }).catch((e: unknown) => e)) as SqlError;
    expect(err.message).toBe('DuckDB: no value for parameter @who (given: whom)\n  in statement: SELECT * FROM users WHERE id = @who');
  });
});
