/**
 * Backend configuration: which warehouse, object store, model registry and
 * serving store the ML step types use. Read from the environment and,
 * optionally, a JSON file (`BULLPEN_BACKENDS_FILE`; the environment wins),
 * validated once at start-up. Every error names the variable to fix.
 *
 * Defaults are the embedded ones: DuckDB in a local file, a local directory as
 * the object store, the registry in that store, the serving store in Redis
 * database 1 of the local Redis.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config.js';

const optional = z.string().min(1).optional();
const ms = z.coerce.number().int().min(1);

const schema = z.object({
  /** `duckdb` (embedded) or `bigquery`. @defaultValue duckdb */
  warehouse: z.enum(['duckdb', 'bigquery']),
  /** DuckDB database file. @defaultValue .bullpen/warehouse.duckdb */
  duckdbPath: z.string().min(1),
  /** BigQuery project that runs the jobs; required for bigquery. */
  bigqueryProject: optional,
  /** Default dataset of unqualified table names; required for bigquery. */
  bigqueryDataset: optional,
  /** BigQuery location (e.g. `EU`, `us-central1`). @defaultValue the dataset's */
  bigqueryLocation: optional,
  /** `local` (a directory) or `gcs`. @defaultValue local */
  objectStore: z.enum(['local', 'gcs']),
  /** Root directory of the local object store. @defaultValue .bullpen/objects */
  localStoreDir: z.string().min(1),
  /** GCS bucket; required for gcs. */
  gcsBucket: optional,
  /** Project of the GCS client. @defaultValue the credentials' */
  gcsProject: optional,
  /** Key prefix of every object Bullpen writes. @defaultValue '' */
  storePrefix: z.string().refine((s) => s === '' || (!s.startsWith('/') && s.endsWith('/')), 'must be empty or like "bullpen/" (no leading /, trailing /)'),
  /** Key prefix of the model registry inside the object store. @defaultValue models/ */
  registryPrefix: z.string().regex(/^[^/].*\/$/, 'must look like "models/" (no leading /, trailing /)'),
  /** Redis of the serving store: another database or server than the queue Redis. @defaultValue redis://127.0.0.1:6379/1 */
  servingRedisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://'),
  /** Key prefix of the serving store's keys. @defaultValue serve */
  servingPrefix: z.string().regex(/^[A-Za-z0-9_.{}-]+$/, 'letters, digits, ".", "_", "-", braces'),
  /** Python interpreter for `train` and Python transforms. @defaultValue the first of python3, /usr/bin/python3, python that imports torch */
  python: optional,
  /** Circuit breakers: failure percentage over the rolling window that opens a breaker. @defaultValue 50 */
  breakerErrorPercent: z.coerce.number().min(1).max(100),
  /** Calls in the rolling window before a breaker may open. @defaultValue 5 */
  breakerVolume: z.coerce.number().int().min(1),
  /** How long an open breaker fails fast before a half-open probe. @defaultValue 30000 */
  breakerResetMs: ms,
  /** Rolling statistics window. @defaultValue 10000 */
  breakerWindowMs: ms,
});

export type BackendConfig = z.infer<typeof schema>;

/** Environment variable behind each setting. */
export const BACKEND_ENV: Record<keyof BackendConfig, string> = {
  warehouse: 'BULLPEN_WAREHOUSE',
  duckdbPath: 'BULLPEN_DUCKDB_PATH',
  bigqueryProject: 'BULLPEN_BIGQUERY_PROJECT',
  bigqueryDataset: 'BULLPEN_BIGQUERY_DATASET',
  bigqueryLocation: 'BULLPEN_BIGQUERY_LOCATION',
  objectStore: 'BULLPEN_OBJECT_STORE',
  localStoreDir: 'BULLPEN_LOCAL_STORE_DIR',
  gcsBucket: 'BULLPEN_GCS_BUCKET',
  gcsProject: 'BULLPEN_GCS_PROJECT',
  storePrefix: 'BULLPEN_STORE_PREFIX',
  registryPrefix: 'BULLPEN_REGISTRY_PREFIX',
  servingRedisUrl: 'BULLPEN_SERVING_REDIS_URL',
  servingPrefix: 'BULLPEN_SERVING_PREFIX',
  python: 'BULLPEN_PYTHON',
  breakerErrorPercent: 'BULLPEN_BREAKER_ERROR_PERCENT',
  breakerVolume: 'BULLPEN_BREAKER_VOLUME',
  breakerResetMs: 'BULLPEN_BREAKER_RESET_MS',
  breakerWindowMs: 'BULLPEN_BREAKER_WINDOW_MS',
};

/** Names the file of settings; its keys are the camelCase names above. */
export const BACKENDS_FILE_ENV = 'BULLPEN_BACKENDS_FILE';

export const BACKEND_DEFAULTS: BackendConfig = {
  warehouse: 'duckdb',
  duckdbPath: '.bullpen/warehouse.duckdb',
  objectStore: 'local',
  localStoreDir: '.bullpen/objects',
  storePrefix: '',
  registryPrefix: 'models/',
  servingRedisUrl: 'redis://127.0.0.1:6379/1',
  servingPrefix: 'serve',
  breakerErrorPercent: 50,
  breakerVolume: 5,
  breakerResetMs: 30_000,
  breakerWindowMs: 10_000,
};

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${BACKENDS_FILE_ENV}=${path}: cannot read it (${(err as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${BACKENDS_FILE_ENV}=${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`${BACKENDS_FILE_ENV}=${path}: expected a JSON object of settings`);
  }
  const unknown = Object.keys(data).filter((k) => !(k in BACKEND_ENV));
  if (unknown.length) {
    throw new ConfigError(`${BACKENDS_FILE_ENV}=${path}: unknown settings ${unknown.join(', ')} (known: ${Object.keys(BACKEND_ENV).join(', ')})`);
  }
  return data as Record<string, unknown>;
}

/**
 * Reads and validates the backend configuration; `overrides` win over the
 * environment, which wins over the file. Relative paths are resolved against
 * the working directory. Throws ConfigError listing every problem.
 */
export function loadBackendConfig(overrides: Partial<BackendConfig> = {}, env: NodeJS.ProcessEnv = process.env): BackendConfig {
  const file = env[BACKENDS_FILE_ENV];
  const fromFile = file ? readFile(file) : {};
  const source: Partial<Record<keyof BackendConfig, string>> = {};
  const raw: Record<string, unknown> = { ...BACKEND_DEFAULTS };
  for (const [key, value] of Object.entries(fromFile)) {
    raw[key] = value;
    source[key as keyof BackendConfig] = `${key} in ${file}`;
  }
  for (const [key, name] of Object.entries(BACKEND_ENV) as [keyof BackendConfig, string][]) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      raw[key] = v;
      source[key] = name;
    }
  }
  for (const [key, value] of Object.entries(overrides)) {
    raw[key] = value;
    source[key as keyof BackendConfig] = `${key} (override)`;
  }
  const where = (key: keyof BackendConfig): string => source[key] ?? BACKEND_ENV[key];
  const lines: string[] = [];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0]) as keyof BackendConfig;
      lines.push(`  ${where(key)}=${JSON.stringify(raw[key])}: ${issue.message}`);
    }
    throw new ConfigError(`invalid backend configuration:\n${lines.join('\n')}`);
  }
  const cfg = parsed.data;
  const need = (key: keyof BackendConfig, why: string): void => {
    if (cfg[key] === undefined) lines.push(`  ${BACKEND_ENV[key]} is not set: ${why}`);
  };
  if (cfg.warehouse === 'bigquery') {
    need('bigqueryProject', 'BULLPEN_WAREHOUSE=bigquery needs the project that runs the jobs');
    need('bigqueryDataset', 'BULLPEN_WAREHOUSE=bigquery needs the dataset of the pipeline tables');
  }
  if (cfg.objectStore === 'gcs') need('gcsBucket', 'BULLPEN_OBJECT_STORE=gcs needs a bucket');
  if (lines.length) throw new ConfigError(`invalid backend configuration:\n${lines.join('\n')}`);
  const duckdbPath = cfg.duckdbPath === ':memory:' ? cfg.duckdbPath : resolve(cfg.duckdbPath);
  return { ...cfg, duckdbPath, localStoreDir: resolve(cfg.localStoreDir) };
}
