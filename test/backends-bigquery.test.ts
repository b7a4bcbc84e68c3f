/**
 * The BigQuery warehouse with the real @google-cloud/bigquery client, pointed
 * at a local fake that records what it sends: query job configuration (SQL,
 * standard SQL, named parameters with types, default dataset), destination
 * and write disposition, load jobs from gs:// URIs and from uploaded local
 * files, and SQL errors with BigQuery's message and the statement.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThroughClient } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BigQueryWarehouse } from '../workers/backends/bigquery.js';
import { Breaker } from '../workers/backends/breaker.js';
import { ndjsonToParquet, describeFile } from '../workers/backends/files.js';
import { SqlError } from '../workers/backends/sql-text.js';
import { startFakeBigQuery, type FakeBigQuery } from './helpers/fake-bigquery.js';

process.env.METADATA_SERVER_DETECTION = 'none';
let fake: FakeBigQuery;
let wh: BigQueryWarehouse;
let dir: string;
let breaker: Breaker;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bullpen-bq-'));
  fake = await startFakeBigQuery('acme-ml');
  breaker = new Breaker('bigquery-test', { volume: 3, resetMs: 60_000 });
  wh = new BigQueryWarehouse({
    project: 'acme-ml',
    dataset: 'recs',
    location: 'EU',
    breaker,
    client: { apiEndpoint: fake.endpoint, authClient: new PassThroughClient() },
    toParquet: ndjsonToParquet,
  });
});
afterAll(async () => {
  breaker.shutdown();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.jobs.length = 0;
  fake.requests.length = 0;
  fake.answer = () => ({ schema: {}, rows: [] });
});

describe('bigquery warehouse', () => {
  it('runs atomic statements as one multi-statement transaction script (one job)', async () => {
    await wh.query(['DELETE FROM recs WHERE day = @day', 'INSERT INTO recs (user_id, day) SELECT user_id, day FROM recs__staging'], { day: '2026-11-30' }, { atomic: true });
    expect(fake.jobs.map((j) => j.configuration.query)).toEqual([
      {
        query: 'BEGIN TRANSACTION;\nDELETE FROM recs WHERE day = @day;\nINSERT INTO recs (user_id, day) SELECT user_id, day FROM recs__staging;\nCOMMIT TRANSACTION;',
        useLegacySql: false,
        defaultDataset: { projectId: 'acme-ml', datasetId: 'recs' },
        parameterMode: 'named',
        queryParameters: [{ name: 'day', parameterType: { type: 'STRING' }, parameterValue: { value: '2026-11-30' } }],
      },
    ]);
  });

  it('sends each statement as a standard-SQL query job with typed named parameters, never spliced', async () => {
    fake.answer = () => ({ schema: { user_id: 'INT64', name: 'STRING' }, rows: [[7, 'ann']] });
    const res = await wh.query(['DELETE FROM events WHERE day = @day', 'SELECT user_id, name FROM users WHERE score > @min AND name != @evil'], {
      day: '2026-11-30',
      min: 0.5,
      evil: "x' OR '1'='1",
    });
    expect(res.rows).toEqual([{ user_id: 7, name: 'ann' }]);
    expect(fake.jobs.map((j) => j.configuration.query)).toEqual([
      {
        query: 'DELETE FROM events WHERE day = @day',
        useLegacySql: false,
        defaultDataset: { projectId: 'acme-ml', datasetId: 'recs' },
        parameterMode: 'named',
        queryParameters: [{ name: 'day', parameterType: { type: 'STRING' }, parameterValue: { value: '2026-11-30' } }],
      },
      {
        query: 'SELECT user_id, name FROM users WHERE score > @min AND name != @evil',
        useLegacySql: false,
        defaultDataset: { projectId: 'acme-ml', datasetId: 'recs' },
        parameterMode: 'named',
        queryParameters: [
          { name: 'min', parameterType: { type: 'FLOAT64' }, parameterValue: { value: 0.5 } },
          { name: 'evil', parameterType: { type: 'STRING' }, parameterValue: { value: "x' OR '1'='1" } },
        ],
      },
    ]);
    expect(fake.jobs.every((j) => j.jobReference.jobId.startsWith('bullpen_') && j.jobReference.location === 'EU')).toBe(true);
  });

  it('writes the last statement to the destination table with the write disposition', async () => {
    await wh.query('SELECT 1 AS x', {}, { destination: { table: 'training_examples', writeDisposition: 'truncate' } });
    await wh.query('SELECT 2 AS x', {}, { destination: { table: 'other.log', writeDisposition: 'append' } });
    expect(fake.jobs.map((j) => j.configuration.query)).toMatchObject([
      { destinationTable: { projectId: 'acme-ml', datasetId: 'recs', tableId: 'training_examples' }, writeDisposition: 'WRITE_TRUNCATE', createDisposition: 'CREATE_IF_NEEDED' },
      { destinationTable: { projectId: 'acme-ml', datasetId: 'other', tableId: 'log' }, writeDisposition: 'WRITE_APPEND' },
    ]);
  });

  it('extracts query results to NDJSON, and to Parquet through a local conversion', async () => {
    fake.answer = () => ({ schema: { id: 'INT64', tags: 'STRING[]' }, rows: [[1, ['a', 'b']], [2, []]] });
    const nd = join(dir, 'x.ndjson');
    expect(await wh.extractToFile('SELECT id, tags FROM t WHERE day = @day', { day: '2026-11-30' }, nd, 'ndjson')).toEqual({ rows: 2 });
    expect(await readFile(nd, 'utf8')).toBe('{"id":1,"tags":["a","b"]}\n{"id":2,"tags":[]}\n');
    const pq = join(dir, 'x.parquet');
    await wh.extractToFile('SELECT id, tags FROM t', {}, pq, 'parquet');
    expect(await describeFile(pq)).toEqual({ id: 'BIGINT', tags: 'VARCHAR[]' });
  });

  it('loads gs:// files with one load job: format, write disposition, schema', async () => {
    const res = await wh.load('events', [{ uri: 'gs://bkt/a.ndjson', local: () => Promise.reject(new Error('not needed')) }, { uri: 'gs://bkt/b.ndjson', local: () => Promise.reject(new Error('not needed')) }], {
      format: 'ndjson',
      writeDisposition: 'truncate',
      schema: { user_id: 'BIGINT', items: 'BIGINT[]', ts: 'TIMESTAMP' },
    });
    expect(res.rows).toBe(3);
    expect(fake.jobs[0]!.configuration.load).toEqual({
      sourceUris: ['gs://bkt/a.ndjson', 'gs://bkt/b.ndjson'],
      sourceFormat: 'NEWLINE_DELIMITED_JSON',
      writeDisposition: 'WRITE_TRUNCATE',
      createDisposition: 'CREATE_IF_NEEDED',
      destinationTable: { projectId: 'acme-ml', datasetId: 'recs', tableId: 'events' },
      schema: {
        fields: [
          { name: 'user_id', type: 'INT64', mode: 'NULLABLE' },
          { name: 'items', type: 'INT64', mode: 'REPEATED' },
          { name: 'ts', type: 'TIMESTAMP', mode: 'NULLABLE' },
        ],
      },
      location: 'EU',
    });
  });

  it('uploads local files to the upload endpoint: the first with the disposition, the rest appended', async () => {
    const a = join(dir, 'a.ndjson');
    await writeFile(a, '{"x":1}\n{"x":2}\n');
    const res = await wh.load('staging', [{ uri: 'file:///a', local: async () => a }, { uri: 'file:///b', local: async () => a }], { format: 'ndjson', writeDisposition: 'truncate' });
    expect(res.rows).toBe(4);
    expect(fake.requests.filter((r) => r.startsWith('POST /upload/bigquery/v2/projects/acme-ml/jobs?uploadType=multipart'))).toHaveLength(2);
    expect(fake.jobs.map((j) => j.configuration.load?.writeDisposition)).toEqual(['WRITE_TRUNCATE', 'WRITE_APPEND']);
    expect(fake.jobs[0]!.configuration.load).toMatchObject({ autodetect: true, sourceFormat: 'NEWLINE_DELIMITED_JSON', destinationTable: { tableId: 'staging' } });
    expect(fake.jobs[0]!.upload?.toString()).toBe('{"x":1}\n{"x":2}\n');
  });

  it('creates a missing table once with its schema', async () => {
    await wh.ensureTable('recommendations', { user_id: 'BIGINT', scores: 'DOUBLE[]' });
    await wh.ensureTable('recommendations', { user_id: 'BIGINT', scores: 'DOUBLE[]' });
    expect(fake.requests.filter((r) => r.startsWith('POST /bigquery/v2/projects/acme-ml/datasets/recs/tables'))).toHaveLength(1);
    expect(fake.tables.get('recs.recommendations')).toMatchObject({ schema: { fields: [{ name: 'user_id', type: 'INT64' }, { name: 'scores', type: 'FLOAT64', mode: 'REPEATED' }] } });
  });

  it("a SQL error carries BigQuery's message and the statement, is not retryable, and does not trip the breaker", async () => {
    for (let i = 0; i < 5; i++) {
      const err = (await wh.query('SELECT SYNTAX_ERROR FROM t WHERE a = @a', { a: 1 }).catch((e: unknown) => e)) as SqlError;
      expect(err).toBeInstanceOf(SqlError);
      expect(err.retryable).toBe(false);
      expect(err.message).toBe('BigQuery: Syntax error: Unexpected identifier "SYNTAX_ERROR" at [1:8]\n  in statement: SELECT SYNTAX_ERROR FROM t WHERE a = @a');
    }
    expect(breaker.state).toBe('closed');
  });

  it('server errors are retryable and open the breaker, which then fails fast', async () => {
    fake.failNext(100, 503);
    const fresh = new Breaker('bigquery-503', { volume: 3, resetMs: 60_000 });
    const client = new BigQueryWarehouse({
      project: 'acme-ml',
      dataset: 'recs',
      breaker: fresh,
      client: { apiEndpoint: fake.endpoint, authClient: new PassThroughClient(), retryOptions: { autoRetry: false } } as never,
      toParquet: ndjsonToParquet,
    });
    for (let i = 0; i < 3; i++) await expect(client.query('SELECT 1', {})).rejects.toMatchObject({ retryable: true });
    expect(fresh.state).toBe('open');
    const before = fake.requests.length;
    await expect(client.query('SELECT 1', {})).rejects.toThrow(/circuit breaker "bigquery-503" is open after repeated failures \(last: BigQuery: injected/);
    expect(fake.requests.length).toBe(before);
    fake.failNext(0);
    fresh.shutdown();
  });
});
