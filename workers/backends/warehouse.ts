/**
 * The warehouse interface the step handlers use; DuckDB (embedded default)
 * and BigQuery implement it. SQL parameters are named (`@name`) and bound.
 */
import type { FileFormat, WriteDisposition } from '../../flows/index.js';

export type SqlValue = string | number | boolean | null;
export type SqlParams = Readonly<Record<string, SqlValue | readonly SqlValue[]>>;

export interface QueryOptions {
  /** Where the last statement's result goes. */
  destination?: { table: string; writeDisposition: WriteDisposition };
  /** Rows of the last statement to return. @defaultValue 100 */
  maxRows?: number;
  /**
   * Run the statements as one transaction: all or nothing, and readers see the
   * tables before or after, never between. (DuckDB: one transaction on one
   * connection; BigQuery: one multi-statement transaction script.)
   */
  atomic?: boolean;
}

export interface QueryResult {
  /** Rows of the last statement (up to maxRows), JSON-safe. */
  rows: Record<string, unknown>[];
  /** Rows the last statement returned or wrote. */
  rowCount: number;
  statements: number;
}

/** A file to load: its URI, and a way to get a local copy. */
export interface LoadSource {
  uri: string;
  local(): Promise<string>;
}

export interface LoadOptions {
  format: FileFormat;
  writeDisposition: WriteDisposition;
  /** Column name → type; absent: from the files. */
  schema?: Readonly<Record<string, string>>;
}

export interface Warehouse {
  readonly kind: 'duckdb' | 'bigquery';
  /** Runs the statements of `sql` in order. Errors are SqlErrors carrying the statement. */
  query(sql: string | readonly string[], params: SqlParams, opts?: QueryOptions): Promise<QueryResult>;
  /** Runs a query and writes its whole result to a local file. */
  extractToFile(sql: string, params: SqlParams, localPath: string, format: FileFormat): Promise<{ rows: number }>;
  /** Loads files into a table; `truncate` replaces its contents. */
  load(table: string, sources: readonly LoadSource[], opts: LoadOptions): Promise<{ rows: number }>;
  /** Creates the table with these columns when it does not exist. */
  ensureTable(table: string, columns: Readonly<Record<string, string>>): Promise<void>;
  close(): Promise<void>;
}

/** Statements of a query step: a script string or a list. */
export function statementsOf(sql: string | readonly string[]): string {
  return typeof sql === 'string' ? sql : sql.join(';\n');
}
