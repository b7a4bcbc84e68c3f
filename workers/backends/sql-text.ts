/**
 * SQL text helpers shared by the warehouses: splitting a script into
 * statements, finding named parameters (`@name`, BigQuery style; DuckDB also
 * takes `$name`), quoting identifiers and literals, and mapping column types.
 * Parameter values are always bound, never spliced; only file paths and
 * identifiers (validated names) are quoted into DuckDB statements.
 */
import { StepError } from '../errors.js';

export interface ScannedStatement {
  /** The statement with `@name` rewritten to `$name` (DuckDB syntax). */
  duckdb: string;
  /** The statement as written (BigQuery takes `@name`). */
  text: string;
  /** Parameter names it uses. */
  params: string[];
}

/** Splits SQL into statements at `;` outside strings, quoted identifiers and comments, and finds `@name`/`$name` parameters. */
export function scanSql(sql: string): ScannedStatement[] {
  const out: ScannedStatement[] = [];
  let text = '';
  let duck = '';
  let params = new Set<string>();
  const flush = (): void => {
    if (text.trim()) out.push({ text: text.trim(), duckdb: duck.trim(), params: [...params] });
    text = '';
    duck = '';
    params = new Set();
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const two = sql.slice(i, i + 2);
    let end = i + 1;
    if (c === "'" || c === '"' || c === '`') {
      end = i + 1;
      while (end < sql.length) {
        if (sql[end] === c && sql[end + 1] === c) end += 2;
        else if (sql[end] === c) break;
        else end++;
      }
      end = Math.min(end + 1, sql.length);
    } else if (two === '--') {
      end = sql.indexOf('\n', i);
      if (end < 0) end = sql.length;
    } else if (two === '/*') {
      end = sql.indexOf('*/', i + 2);
      end = end < 0 ? sql.length : end + 2;
    } else if (c === ';') {
      flush();
      i++;
      continue;
    } else if ((c === '@' || c === '$') && /[A-Za-z_]/.test(sql[i + 1] ?? '') && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? '')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))!;
      params.add(m[0]);
      text += c + m[0];
      duck += `$${m[0]}`;
      i += 1 + m[0].length;
      continue;
    }
    text += sql.slice(i, end);
    duck += sql.slice(i, end);
    i = end;
  }
  flush();
  return out;
}

/** A SQL error with the warehouse's message and the statement that failed. */
export class SqlError extends StepError {
  override name = 'SqlError';
  constructor(
    readonly warehouse: string,
    readonly warehouseMessage: string,
    readonly statement: string,
    opts: { retryable?: boolean; cause?: unknown } = {},
  ) {
    const stmt = statement.length > 2000 ? `${statement.slice(0, 2000)}…` : statement;
    super(`${warehouse}: ${warehouseMessage}\n  in statement: ${stmt}`, { retryable: opts.retryable ?? false, cause: opts.cause });
  }
}

/** Parameters a statement uses that are not given: a clear error before anything runs. */
export function checkParams(statements: readonly ScannedStatement[], params: Readonly<Record<string, unknown>>, warehouse: string): void {
  for (const s of statements) {
    const missing = s.params.filter((p) => !(p in params));
    if (missing.length) {
      throw new SqlError(warehouse, `no value for parameter ${missing.map((m) => `@${m}`).join(', ')} (given: ${Object.keys(params).join(', ') || 'none'})`, s.text);
    }
  }
}

/** `"name"` with quotes doubled; `a.b` becomes `"a"."b"`. */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((p) => `"${p.replaceAll('"', '""')}"`)
    .join('.');
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

const DUCK_TO_BQ: Record<string, string> = {
  BIGINT: 'INT64',
  INTEGER: 'INT64',
  INT: 'INT64',
  INT64: 'INT64',
  DOUBLE: 'FLOAT64',
  FLOAT: 'FLOAT64',
  REAL: 'FLOAT64',
  FLOAT64: 'FLOAT64',
  VARCHAR: 'STRING',
  TEXT: 'STRING',
  STRING: 'STRING',
  BOOLEAN: 'BOOL',
  BOOL: 'BOOL',
  TIMESTAMP: 'TIMESTAMP',
  DATE: 'DATE',
  JSON: 'JSON',
};

const BQ_TO_DUCK: Record<string, string> = { INT64: 'BIGINT', FLOAT64: 'DOUBLE', STRING: 'VARCHAR', BOOL: 'BOOLEAN' };

function baseType(type: string, column: string): { base: string; repeated: boolean } {
  const t = type.trim().toUpperCase();
  const repeated = t.endsWith('[]');
  const base = repeated ? t.slice(0, -2).trim() : t;
  if (!(base in DUCK_TO_BQ)) {
    throw new StepError(`column ${column}: unknown type "${type}" (known: ${Object.keys(DUCK_TO_BQ).join(', ')}, and any of them with [] for a list)`, { retryable: false });
  }
  return { base, repeated };
}

/** A column type in DuckDB syntax (`INT64` → `BIGINT`, `DOUBLE[]` stays). */
export function duckType(type: string, column: string): string {
  const { base, repeated } = baseType(type, column);
  return `${BQ_TO_DUCK[base] ?? base}${repeated ? '[]' : ''}`;
}

/** A BigQuery schema field for a column type (`DOUBLE[]` → FLOAT64, mode REPEATED). */
export function bigqueryField(name: string, type: string): { name: string; type: string; mode: string } {
  const { base, repeated } = baseType(type, name);
  return { name, type: DUCK_TO_BQ[base]!, mode: repeated ? 'REPEATED' : 'NULLABLE' };
}
