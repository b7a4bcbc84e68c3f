/**
 * Local file work on an in-memory DuckDB, whatever the warehouse: reading
 * rows of NDJSON/Parquet files in batches, converting NDJSON to Parquet, and
 * rewriting a file with typed columns plus a constant column.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { FileFormat } from '../../flows/index.js';
import { StepError } from '../errors.js';
import { jsonSafeRows, readFilesSql } from './duckdb.js';
import { duckType, quoteIdent, quoteLiteral } from './sql-text.js';

let instance: Promise<DuckDBInstance> | undefined;

async function withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  instance ??= DuckDBInstance.create(':memory:');
  const c = await (await instance).connect();
  try {
    return await fn(c);
  } catch (err) {
    if (err instanceof StepError) throw err;
    throw new StepError(`reading files: ${(err as Error).message}`, { retryable: false, cause: err });
  } finally {
    c.closeSync();
  }
}

/** The format of a file from its name (`.parquet`, else NDJSON). */
export function formatOf(path: string): FileFormat {
  return /\.parquet$/i.test(path) ? 'parquet' : 'ndjson';
}

/** Calls `onBatch` with the file's rows (JSON-safe objects), `batchSize` at a time, in order. */
export async function readBatches(
  path: string,
  batchSize: number,
  onBatch: (rows: Record<string, unknown>[]) => Promise<void>,
  signal?: AbortSignal,
): Promise<number> {
  return withConnection(async (c) => {
    const result = await c.stream(readFilesSql([path], formatOf(path)));
    const names = result.columnNames();
    const types = result.columnTypes().map(String);
    let total = 0;
    let batch: Record<string, unknown>[] = [];
    for await (const rows of result.yieldRowsJson()) {
      signal?.throwIfAborted();
      for (const row of jsonSafeRows(names, types, rows)) {
        batch.push(row);
        if (batch.length >= batchSize) {
          await onBatch(batch);
          total += batch.length;
          batch = [];
        }
      }
    }
    if (batch.length) {
      await onBatch(batch);
      total += batch.length;
    }
    return total;
  });
}

/** Columns of a file and their DuckDB types. */
export async function describeFile(path: string): Promise<Record<string, string>> {
  return withConnection(async (c) => {
    const r = await c.runAndReadAll(`${readFilesSql([path], formatOf(path))} LIMIT 0`);
    return Object.fromEntries(r.columnNames().map((n, i) => [n, String(r.columnTypes()[i])]));
  });
}

export async function ndjsonToParquet(src: string, dest: string): Promise<void> {
  await withConnection((c) => c.run(`COPY (${readFilesSql([src], 'ndjson')}) TO ${quoteLiteral(dest)} (FORMAT parquet)`));
}

/**
 * Writes `dest` (NDJSON) with the given columns of `src` cast to their types,
 * plus `constant` columns; a missing column is an error naming it.
 */
export async function reshapeFile(
  src: string,
  dest: string,
  columns: Readonly<Record<string, string>>,
  constant: Readonly<Record<string, string | number>> = {},
): Promise<number> {
  const have = await describeFile(src);
  const missing = Object.keys(columns).filter((c) => !(c in have));
  if (missing.length) {
    throw new StepError(`${src}: no column ${missing.join(', ')} (it has ${Object.keys(have).join(', ')})`, { retryable: false });
  }
  const select = [
    ...Object.entries(columns).map(([c, t]) => `CAST(${quoteIdent(c)} AS ${duckType(t, c)}) AS ${quoteIdent(c)}`),
    ...Object.entries(constant).map(([c, v]) => `${typeof v === 'number' ? v : quoteLiteral(v)} AS ${quoteIdent(c)}`),
  ].join(', ');
  return withConnection(async (c) => {
    const r = await c.run(`COPY (SELECT ${select} FROM (${readFilesSql([src], formatOf(src))})) TO ${quoteLiteral(dest)} (FORMAT json)`);
    return r.rowsChanged;
  });
}
