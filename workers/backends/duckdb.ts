/**
 * The embedded warehouse: DuckDB in a local file (or `:memory:`). One
 * instance per path per process (DuckDB allows one writing process per file),
 * a connection per call. Parameters are bound through prepared statements.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BIGINT, DOUBLE, DuckDBInstance, LIST, listValue, ResultReturnType, type DuckDBConnection, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import type { FileFormat } from '../../flows/index.js';
import { StepError } from '../errors.js';
import { checkParams, duckType, quoteIdent, quoteLiteral, scanSql, SqlError, type ScannedStatement } from './sql-text.js';
import { statementsOf, type LoadOptions, type LoadSource, type QueryOptions, type QueryResult, type SqlParams, type SqlValue, type Warehouse } from './warehouse.js';

function toDuck(v: SqlValue | readonly SqlValue[]): DuckDBValue {
  if (Array.isArray(v)) return listValue(v.map((x) => toDuck(x as SqlValue)));
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return v as DuckDBValue;
}

/** Integers bind as BIGINT, other numbers as DOUBLE (else JS bigints bind as HUGEINT). */
function duckTypeOf(v: SqlValue | readonly SqlValue[]): DuckDBType | undefined {
  if (Array.isArray(v)) {
    const inner = v.map((x) => duckTypeOf(x as SqlValue)).find((t) => t !== undefined);
    return inner ? LIST(v.every((x) => typeof x !== 'number' || Number.isSafeInteger(x)) ? inner : DOUBLE) : undefined;
  }
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BIGINT : DOUBLE;
  return undefined;
}

/** Transient DuckDB failures (a lock held by another process, a write conflict) are worth retrying. */
function retryable(message: string): boolean {
  return /IO Error|Could not set lock|conflict|Interrupt/i.test(message);
}

const INTEGER_TYPES = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)(\[\])*$/;

/** Integers (and lists of them) that DuckDB's JSON form gives as strings become numbers when safe. */
function intsToNumbers(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(intsToNumbers);
  return typeof v === 'string' && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

/** Row objects from DuckDB's JSON rows, with integer columns as numbers. */
export function jsonSafeRows(names: readonly string[], types: readonly string[], rows: readonly (readonly unknown[])[]): Record<string, unknown>[] {
  const ints = types.map((t) => INTEGER_TYPES.test(t));
  return rows.map((row) => Object.fromEntries(names.map((n, i) => [n, ints[i] ? intsToNumbers(row[i]) : row[i]])));
}

/** `read_json`/`read_parquet` over local files, with columns cast when a schema is given. */
export function readFilesSql(paths: readonly string[], format: FileFormat, schema?: Readonly<Record<string, string>>): string {
  const files = `[${paths.map(quoteLiteral).join(', ')}]`;
  if (format === 'parquet') {
    const select = schema ? Object.entries(schema).map(([c, t]) => `CAST(${quoteIdent(c)} AS ${duckType(t, c)}) AS ${quoteIdent(c)}`).join(', ') : '*';
    return `SELECT ${select} FROM read_parquet(${files})`;
  }
  if (!schema) return `SELECT * FROM read_json(${files}, format = 'newline_delimited')`;
  const cols = Object.entries(schema).map(([c, t]) => `${quoteLiteral(c)}: ${quoteLiteral(duckType(t, c))}`).join(', ');
  return `SELECT * FROM read_json(${files}, format = 'newline_delimited', columns = {${cols}})`;
}

export class DuckDbWarehouse implements Warehouse {
  readonly kind = 'duckdb';
  private instance?: Promise<DuckDBInstance>;

  constructor(readonly path: string) {}

  private async connect(): Promise<DuckDBConnection> {
    this.instance ??= (async () => {
      if (this.path !== ':memory:') await mkdir(dirname(this.path), { recursive: true });
      return DuckDBInstance.fromCache(this.path);
    })();
    try {
      return await (await this.instance).connect();
    } catch (err) {
      this.instance = undefined;
      const msg = (err as Error).message;
      throw new StepError(`DuckDB: cannot open ${this.path}: ${msg}${/lock/i.test(msg) ? ' (another process holds it: DuckDB allows one writing process per file)' : ''}`, {
        retryable: true,
        cause: err,
      });
    }
  }

  private async withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const c = await this.connect();
    try {
      return await fn(c);
    } finally {
      c.closeSync();
    }
  }

  /** Runs one statement with the parameters it uses; errors carry the statement. */
  private async run(c: DuckDBConnection, s: ScannedStatement, sql: string, params: SqlParams, maxRows?: number) {
    const values = Object.fromEntries(s.params.map((p) => [p, toDuck(params[p]!)]));
    const types = Object.fromEntries(s.params.map((p) => [p, duckTypeOf(params[p]!)]));
    try {
      const prepared = await c.prepare(sql);
      prepared.bind(values, types);
      if (maxRows === undefined) return { reader: undefined, changed: (await prepared.run()).rowsChanged };
      const reader = await prepared.runAndReadAll();
      return { reader, changed: reader.rowsChanged };
    } catch (err) {
      const msg = (err as Error).message;
      throw new SqlError('DuckDB', msg, s.text, { retryable: retryable(msg), cause: err });
    }
  }

  async query(sql: string | readonly string[], params: SqlParams, opts: QueryOptions = {}): Promise<QueryResult> {
    const statements = scanSql(statementsOf(sql));
    if (!statements.length) throw new StepError('no SQL statement to run', { retryable: false });
    checkParams(statements, params, 'DuckDB');
    const maxRows = opts.maxRows ?? 100;
    return this.withConnection(async (c) => {
      let result: QueryResult = { rows: [], rowCount: 0, statements: statements.length };
      // an error closes the connection, which rolls the open transaction back
      if (opts.atomic) await c.run('BEGIN TRANSACTION');
      for (const [i, s] of statements.entries()) {
        const last = i === statements.length - 1;
        if (last && opts.destination) {
          const { table, writeDisposition } = opts.destination;
          await this.ensureSchema(c, table);
          const t = quoteIdent(table);
          if (writeDisposition === 'truncate') {
            await this.run(c, s, `CREATE OR REPLACE TABLE ${t} AS ${s.duckdb}`, params);
            const count = await c.runAndReadAll(`SELECT count(*) AS n FROM ${t}`);
            result = { ...result, rowCount: Number(count.getRows()[0]?.[0] ?? 0) };
          } else {
            await this.run(c, s, `CREATE TABLE IF NOT EXISTS ${t} AS SELECT * FROM (${s.duckdb}) LIMIT 0`, params);
            const { changed } = await this.run(c, s, `INSERT INTO ${t} BY NAME ${s.duckdb}`, params);
            result = { ...result, rowCount: changed };
          }
          continue;
        }
        const { reader, changed } = await this.run(c, s, s.duckdb, params, last ? maxRows : undefined);
        if (!last || !reader) continue;
        const rows = jsonSafeRows(reader.columnNames(), reader.columnTypes().map(String), reader.getRowsJson());
        const isQuery = reader.returnType === ResultReturnType.QUERY_RESULT;
        result = { ...result, rows: isQuery ? rows.slice(0, maxRows) : [], rowCount: isQuery ? rows.length : changed };
      }
      if (opts.atomic) await c.run('COMMIT');
      return result;
    });
  }

  async extractToFile(sql: string, params: SqlParams, localPath: string, format: FileFormat): Promise<{ rows: number }> {
    const statements = scanSql(sql);
    if (statements.length !== 1) throw new StepError(`an extract takes exactly one query, got ${statements.length} statements`, { retryable: false });
    const s = statements[0]!;
    checkParams(statements, params, 'DuckDB');
    await mkdir(dirname(localPath), { recursive: true });
    const fmt = format === 'parquet' ? 'parquet' : 'json';
    return this.withConnection(async (c) => {
      const { changed } = await this.run(c, s, `COPY (${s.duckdb}) TO ${quoteLiteral(localPath)} (FORMAT ${fmt})`, params);
      return { rows: changed };
    });
  }

  private async ensureSchema(c: DuckDBConnection, table: string): Promise<void> {
    if (!table.includes('.')) return;
    const schema = table.split('.')[0]!;
    await c.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  }

  async ensureTable(table: string, columns: Readonly<Record<string, string>>): Promise<void> {
    const cols = Object.entries(columns).map(([c, t]) => `${quoteIdent(c)} ${duckType(t, c)}`).join(', ');
    const sql = `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (${cols})`;
    await this.withConnection(async (c) => {
      await this.ensureSchema(c, table);
      await this.run(c, { text: sql, duckdb: sql, params: [] }, sql, {});
    });
  }

  async load(table: string, sources: readonly LoadSource[], opts: LoadOptions): Promise<{ rows: number }> {
    const paths = await Promise.all(sources.map((s) => s.local()));
    const select = readFilesSql(paths, opts.format, opts.schema);
    const t = quoteIdent(table);
    const stmt = (sql: string): ScannedStatement => ({ text: sql, duckdb: sql, params: [] });
    return this.withConnection(async (c) => {
      await this.ensureSchema(c, table);
      await c.run('BEGIN TRANSACTION');
      try {
        const create = opts.schema
          ? `(${Object.entries(opts.schema).map(([col, ty]) => `${quoteIdent(col)} ${duckType(ty, col)}`).join(', ')})`
          : `AS ${select} LIMIT 0`;
        if (opts.writeDisposition === 'truncate') await this.run(c, stmt(`CREATE OR REPLACE TABLE ${t} ${create}`), `CREATE OR REPLACE TABLE ${t} ${create}`, {});
        else await this.run(c, stmt(`CREATE TABLE IF NOT EXISTS ${t} ${create}`), `CREATE TABLE IF NOT EXISTS ${t} ${create}`, {});
        const insert = `INSERT INTO ${t} BY NAME ${select}`;
        const { changed } = await this.run(c, stmt(insert), insert, {});
        await c.run('COMMIT');
        return { rows: changed };
      } catch (err) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    // Instances come from DuckDB's process-wide cache and stay open for the process.
  }
}
