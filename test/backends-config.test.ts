/**
 * Backend configuration: embedded defaults, the environment over a JSON file,
 * and errors that name the variable (or file key) to fix. Breaker state as
 * Prometheus metrics.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_DEFAULTS, loadBackendConfig } from '../common/backend-config.js';
import { ConfigError } from '../common/config.js';
import { Breaker } from '../workers/backends/breaker.js';
import { backendBreakerStates, registerBreakerMetrics } from '../workers/backends/breaker-metrics.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'bullpen-config-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('backend configuration', () => {
  it('defaults to the embedded backends, paths resolved', () => {
    expect(loadBackendConfig({}, {})).toEqual({ ...BACKEND_DEFAULTS, duckdbPath: resolve('.bullpen/warehouse.duckdb'), localStoreDir: resolve('.bullpen/objects') });
  });

  it('takes production settings from the environment', () => {
    const cfg = loadBackendConfig({}, {
      BULLPEN_WAREHOUSE: 'bigquery',
      BULLPEN_BIGQUERY_PROJECT: 'acme-ml',
      BULLPEN_BIGQUERY_DATASET: 'recs',
      BULLPEN_OBJECT_STORE: 'gcs',
      BULLPEN_GCS_BUCKET: 'acme-ml-data',
      BULLPEN_BREAKER_RESET_MS: '5000',
    });
    expect(cfg).toMatchObject({ warehouse: 'bigquery', bigqueryProject: 'acme-ml', bigqueryDataset: 'recs', objectStore: 'gcs', gcsBucket: 'acme-ml-data', breakerResetMs: 5000 });
  });

  it('names every missing or bad variable at once', () => {
    const err = (() => {
      try {
        return loadBackendConfig({}, { BULLPEN_WAREHOUSE: 'bigquery', BULLPEN_OBJECT_STORE: 'gcs' });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      'invalid backend configuration:\n' +
        '  BULLPEN_BIGQUERY_PROJECT is not set: BULLPEN_WAREHOUSE=bigquery needs the project that runs the jobs\n' +
        '  BULLPEN_BIGQUERY_DATASET is not set: BULLPEN_WAREHOUSE=bigquery needs the dataset of the pipeline tables\n' +
        '  BULLPEN_GCS_BUCKET is not set: BULLPEN_OBJECT_STORE=gcs needs a bucket',
    );
    expect(() => loadBackendConfig({}, { BULLPEN_WAREHOUSE: 'snowflake', BULLPEN_SERVING_REDIS_URL: 'localhost:6379' })).toThrow(
      /BULLPEN_WAREHOUSE="snowflake": Invalid option: expected one of "duckdb"\|"bigquery"\n {2}BULLPEN_SERVING_REDIS_URL="localhost:6379": must start with redis:\/\/ or rediss:\/\//,
    );
  });

  it('reads a JSON file named by BULLPEN_BACKENDS_FILE; the environment wins; the file is checked', async () => {
    const file = join(dir, 'backends.json');
    await writeFile(file, JSON.stringify({ warehouse: 'bigquery', bigqueryProject: 'p', bigqueryDataset: 'd', servingRedisUrl: 'redis://serving:6379' }));
    expect(loadBackendConfig({}, { BULLPEN_BACKENDS_FILE: file, BULLPEN_BIGQUERY_DATASET: 'from_env' })).toMatchObject({ warehouse: 'bigquery', bigqueryProject: 'p', bigqueryDataset: 'from_env', servingRedisUrl: 'redis://serving:6379' });
    await writeFile(file, JSON.stringify({ warehous: 'duckdb' }));
    expect(() => loadBackendConfig({}, { BULLPEN_BACKENDS_FILE: file })).toThrow(`BULLPEN_BACKENDS_FILE=${file}: unknown settings warehous (known: warehouse,`);
    await writeFile(file, JSON.stringify({ breakerVolume: 0 }));
    expect(() => loadBackendConfig({}, { BULLPEN_BACKENDS_FILE: file })).toThrow(`breakerVolume in ${file}=0: Too small`);
    expect(() => loadBackendConfig({}, { BULLPEN_BACKENDS_FILE: join(dir, 'missing.json') })).toThrow(`BULLPEN_BACKENDS_FILE=${join(dir, 'missing.json')}: cannot read it`);
  });
});

describe('breaker metrics', () => {
  it('reports each breaker state for bullpen_circuit_state, and its window calls as a gauge', async () => {
    const register = new Registry();
    registerBreakerMetrics(register);
    const b = new Breaker('metrics-test', { volume: 1, resetMs: 60_000 });
    expect(backendBreakerStates()['metrics-test']).toBe('closed');
    await b.call(() => Promise.reject(new Error('down'))).catch(() => undefined);
    expect(backendBreakerStates()['metrics-test']).toBe('open');
    const text = await register.metrics();
    expect(text).toContain('bullpen_circuit_breaker_window_calls{breaker="metrics-test",outcome="failure"} 1');
    b.shutdown();
    expect(await register.metrics()).not.toContain('breaker="metrics-test"');
  });
});
