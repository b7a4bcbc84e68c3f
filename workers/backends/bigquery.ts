/**
 * The warehouse on BigQuery (@google-cloud/bigquery). Each statement is its
 * own query job (standard SQL, named `@parameters` bound by the client, the
 * configured dataset as default); loads are load jobs, from `gs://` URIs when
 * the files are in GCS, else uploaded from local copies. Every API call goes
 * through the `bigquery` circuit breaker; SQL errors do not trip it.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BigQuery, type BigQueryOptions, type Job, type JobLoadMetadata, type Query } from '@google-cloud/bigquery';
import type { FileFormat, WriteDisposition } from '../../flows/index.js';
import { StepError } from '../errors.js';
import type { Breaker } from './breaker.js';
import { checkParams, bigqueryField, scanSql, SqlError } from './sql-text.js';
import { statementsOf, type LoadOptions, type LoadSource, type QueryOptions, type QueryResult, type SqlParams, type Warehouse } from './warehouse.js';

export interface BigQueryWarehouseOptions {
  project: string;
  dataset: string;
  location?: string;
  breaker: Breaker;
  /** Passed to `new BigQuery()` (credentials, apiEndpoint and authClient in tests). */
  client?: BigQueryOptions;
  /** NDJSON → Parquet, for Parquet extracts (BigQuery returns rows). */
  toParquet: (ndjson: string, parquet: string) => Promise<void>;
}

const DISPOSITION: Record<WriteDisposition, string> = { append: 'WRITE_APPEND', truncate: 'WRITE_TRUNCATE' };
const FORMAT: Record<FileFormat, string> = { ndjson: 'NEWLINE_DELIMITED_JSON', parquet: 'PARQUET' };

function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** The BigQuery message of an API error (job errorResult or HTTP error). */
function bqMessage(err: unknown): string {
  const e = err as { errors?: { message?: string }[]; message?: string };
  return e.errors?.map((x) => x.message).filter(Boolean).join('; ') || e.message || String(err);
}

function isTransient(err: unknown): boolean {
  const status = httpStatus(err);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  const reasons = ((err as { errors?: { reason?: string }[] }).errors ?? []).map((x) => x.reason);
  if (reasons.length) return reasons.some((r) => r === 'backendError' || r === 'rateLimitExceeded' || r === 'internalError');
  return true; // no status, no reason: a network failure
}

/** BigQuery values as plain JSON (timestamps and dates arrive as `{ value }`). */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.value === 'string' && Object.keys(o).length === 1) return o.value;
    if (Buffer.isBuffer(v)) return v.toString('base64');
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

export class BigQueryWarehouse implements Warehouse {
  readonly kind = 'bigquery';
  private readonly bq: BigQuery;

  constructor(private readonly opts: BigQueryWarehouseOptions) {
    this.bq = new BigQuery({ projectId: opts.project, ...(opts.location ? { location: opts.location } : {}), ...opts.client });
  }

  private table(name: string) {
    const [ds, t] = name.includes('.') ? name.split('.') : [this.opts.dataset, name];
    return this.bq.dataset(ds!, { projectId: this.opts.project }).table(t!);
  }

  /** An API call through the breaker; errors become SqlErrors (SQL given) or StepErrors. */
  private call<T>(what: string, fn: () => Promise<T>, statement?: string): Promise<T> {
    return this.opts.breaker.call(async () => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof StepError) throw err;
        const retryable = isTransient(err);
        if (statement !== undefined) throw new SqlError('BigQuery', bqMessage(err), statement, { retryable, cause: err });
        throw new StepError(`BigQuery ${what}: ${bqMessage(err)}`, { retryable, cause: err });
      }
    });
  }

  private async startQuery(text: string, names: readonly string[], params: SqlParams, extra: Partial<Query> = {}): Promise<Job> {
    const query: Query = {
      query: text,
      useLegacySql: false,
      defaultDataset: { projectId: this.opts.project, datasetId: this.opts.dataset },
      jobPrefix: 'bullpen_',
      ...(names.length ? { params: Object.fromEntries(names.map((n) => [n, params[n]])) as Query['params'] } : {}),
      ...(this.opts.location ? { location: this.opts.location } : {}),
      ...extra,
    };
    const [job] = await this.call('query', () => this.bq.createQueryJob(query), text);
    return job;
  }

  async query(sql: string | readonly string[], params: SqlParams, opts: QueryOptions = {}): Promise<QueryResult> {
    const statements = scanSql(statementsOf(sql));
    if (!statements.length) throw new StepError('no SQL statement to run', { retryable: false });
    checkParams(statements, params, 'BigQuery');
    if (opts.atomic) {
      // one script: BigQuery runs a multi-statement transaction only inside one job
      const script = ['BEGIN TRANSACTION', ...statements.map((st) => st.text), 'COMMIT TRANSACTION'].join(';\n') + ';';
      const names = [...new Set(statements.flatMap((st) => st.params))];
      const job = await this.startQuery(script, names, params);
      await this.call('query results', () => job.getQueryResults({ maxResults: 0, autoPaginate: false }), script);
      return { rows: [], rowCount: 0, statements: statements.length };
    }
    let result: QueryResult = { rows: [], rowCount: 0, statements: statements.length };
    for (const [i, s] of statements.entries()) {
      const last = i === statements.length - 1;
      const dest = last ? opts.destination : undefined;
      const job = await this.startQuery(s.text, s.params, params, dest ? {
        destination: this.table(dest.table),
        writeDisposition: DISPOSITION[dest.writeDisposition],
        createDisposition: 'CREATE_IF_NEEDED',
      } : {});
      const [rows, , response] = await this.call('query results', () => job.getQueryResults({ maxResults: opts.maxRows ?? 100, autoPaginate: false }), s.text);
      if (!last) continue;
      const meta = job.metadata as { statistics?: { query?: { numDmlAffectedRows?: string } } };
      const dml = meta.statistics?.query?.numDmlAffectedRows;
      const total = Number((response as { totalRows?: string } | undefined)?.totalRows ?? rows.length);
      result = { ...result, rows: dest || dml !== undefined ? [] : (rows.map(plain) as Record<string, unknown>[]), rowCount: dml !== undefined ? Number(dml) : total };
    }
    return result;
  }

  async extractToFile(sql: string, params: SqlParams, localPath: string, format: FileFormat): Promise<{ rows: number }> {
    const statements = scanSql(sql);
    if (statements.length !== 1) throw new StepError(`an extract takes exactly one query, got ${statements.length} statements`, { retryable: false });
    const s = statements[0]!;
    checkParams(statements, params, 'BigQuery');
    const job = await this.startQuery(s.text, s.params, params);
    await mkdir(dirname(localPath), { recursive: true });
    const ndjson = format === 'ndjson' ? localPath : `${localPath}.ndjson`;
    let rows = 0;
    const toLines = new Transform({
      objectMode: true,
      transform(row: unknown, _enc, done) {
        rows++;
        done(null, `${JSON.stringify(plain(row))}\n`);
      },
    });
    await this.call('query results', () => pipeline(job.getQueryResultsStream(), toLines, createWriteStream(ndjson)), s.text);
    if (format === 'parquet') {
      await this.opts.toParquet(ndjson, `${localPath}.tmp`);
      await rename(`${localPath}.tmp`, localPath);
      await rm(ndjson, { force: true });
    }
    return { rows };
  }

  private async waitForJob(job: Job, what: string): Promise<Record<string, unknown>> {
    const res = (await this.call(what, () => job.promise())) as unknown[];
    return (res[0] ?? {}) as Record<string, unknown>;
  }

  async load(table: string, sources: readonly LoadSource[], opts: LoadOptions): Promise<{ rows: number }> {
    const t = this.table(table);
    const base: JobLoadMetadata = {
      sourceFormat: FORMAT[opts.format],
      createDisposition: 'CREATE_IF_NEEDED',
      ...(opts.schema ? { schema: { fields: Object.entries(opts.schema).map(([n, ty]) => bigqueryField(n, ty)) } } : opts.format === 'ndjson' ? { autodetect: true } : {}),
      ...(this.opts.location ? { location: this.opts.location } : {}),
    };
    const outputRows = (meta: Record<string, unknown>): number =>
      Number((meta as { statistics?: { load?: { outputRows?: string } } }).statistics?.load?.outputRows ?? 0);
    if (sources.every((s) => s.uri.startsWith('gs://'))) {
      const [job] = await this.call(`load into ${table}`, () =>
        this.bq.createJob({
          jobPrefix: 'bullpen_',
          ...(this.opts.location ? { location: this.opts.location } : {}),
          configuration: {
            load: {
              ...base,
              sourceUris: sources.map((s) => s.uri),
              writeDisposition: DISPOSITION[opts.writeDisposition],
              destinationTable: { projectId: this.opts.project, datasetId: t.dataset.id!, tableId: t.id! },
            },
          },
        }),
      );
      return { rows: outputRows(await this.waitForJob(job, `load into ${table}`)) };
    }
    let rows = 0;
    for (const [i, s] of sources.entries()) {
      const path = await s.local();
      const disposition = i === 0 ? DISPOSITION[opts.writeDisposition] : DISPOSITION.append;
      const [job] = await this.call(`load of ${s.uri} into ${table}`, () => t.createLoadJob(path, { ...base, writeDisposition: disposition, jobPrefix: 'bullpen_' }));
      rows += outputRows(await this.waitForJob(job, `load of ${s.uri} into ${table}`));
    }
    return { rows };
  }

  async ensureTable(table: string, columns: Readonly<Record<string, string>>): Promise<void> {
    const t = this.table(table);
    const [exists] = await this.call(`lookup of table ${table}`, () => t.exists());
    if (exists) return;
    const schema = { fields: Object.entries(columns).map(([n, ty]) => bigqueryField(n, ty)) };
    await this.call(`creation of table ${table}`, () => t.create({ schema })).catch((err: StepError) => {
      if (httpStatus(err.cause) !== 409) throw err; // 409: created meanwhile
    });
  }

  async close(): Promise<void> {}
}
