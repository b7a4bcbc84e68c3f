/**
 * The backends of the ML step types, built from the backend configuration.
 * Each is made on first use, so a worker that never runs a warehouse step
 * never opens DuckDB or a Google client.
 */
import type { BigQueryOptions } from '@google-cloud/bigquery';
import type { StorageOptions } from '@google-cloud/storage';
import type { BackendConfig } from '../../common/backend-config.js';
import { BigQueryWarehouse } from './bigquery.js';
import { Breaker, type BreakerOptions } from './breaker.js';
import { DuckDbWarehouse } from './duckdb.js';
import { ndjsonToParquet } from './files.js';
import { GcsObjectStore } from './gcs-store.js';
import { LocalObjectStore } from './local-store.js';
import { ModelRegistry } from './model-registry.js';
import type { ObjectStore } from './object-store.js';
import { ServingStore } from './serving-store.js';
import type { Warehouse } from './warehouse.js';

export interface Backends {
  readonly config: BackendConfig;
  warehouse(): Warehouse;
  store(): ObjectStore;
  registry(): ModelRegistry;
  serving(): ServingStore;
  /** The breaker of each backend made so far, by name. */
  breakers(): Breaker[];
  close(): Promise<void>;
}

export interface BackendClients {
  /** Extra options of the BigQuery client (e.g. apiEndpoint and authClient in tests). */
  bigquery?: BigQueryOptions;
  /** Extra options of the Storage client (e.g. apiEndpoint in tests). */
  gcs?: StorageOptions;
}

export function createBackends(config: BackendConfig, clients: BackendClients = {}): Backends {
  const breakerOpts: BreakerOptions = {
    errorPercent: config.breakerErrorPercent,
    volume: config.breakerVolume,
    resetMs: config.breakerResetMs,
    windowMs: config.breakerWindowMs,
  };
  const made = new Map<string, Breaker>();
  const breaker = (name: string): Breaker => {
    let b = made.get(name);
    if (!b) made.set(name, (b = new Breaker(name, breakerOpts)));
    return b;
  };
  const makeStore = (breakerName: string): ObjectStore =>
    config.objectStore === 'gcs'
      ? new GcsObjectStore({
          bucket: config.gcsBucket!,
          breaker: breaker(breakerName),
          client: { ...(config.gcsProject ? { projectId: config.gcsProject } : {}), ...clients.gcs },
        })
      : new LocalObjectStore(config.localStoreDir);
  let warehouse: Warehouse | undefined;
  let store: ObjectStore | undefined;
  let registry: ModelRegistry | undefined;
  let serving: ServingStore | undefined;
  return {
    config,
    warehouse: () =>
      (warehouse ??=
        config.warehouse === 'bigquery'
          ? new BigQueryWarehouse({
              project: config.bigqueryProject!,
              dataset: config.bigqueryDataset!,
              ...(config.bigqueryLocation ? { location: config.bigqueryLocation } : {}),
              breaker: breaker('bigquery'),
              ...(clients.bigquery ? { client: clients.bigquery } : {}),
              toParquet: ndjsonToParquet,
            })
          : new DuckDbWarehouse(config.duckdbPath)),
    store: () => (store ??= makeStore('gcs')),
    registry: () => (registry ??= new ModelRegistry(makeStore('gcs'), `${config.storePrefix}${config.registryPrefix}`, breaker('registry'))),
    serving: () => (serving ??= new ServingStore({ url: config.servingRedisUrl, prefix: config.servingPrefix, breaker: breaker('serving') })),
    breakers: () => [...made.values()],
    async close() {
      await warehouse?.close();
      for (const b of made.values()) b.shutdown();
    },
  };
}

export type { Warehouse } from './warehouse.js';
export type { ObjectStore } from './object-store.js';

/** Where the ML steps' outputs are, as lines to print (e.g. after a `bullpen dev` run). */
export function describeOutputs(config: BackendConfig, run?: { pipeline: string; runId: string }): string[] {
  const store = config.objectStore === 'gcs' ? `gs://${config.gcsBucket}/${config.storePrefix}` : `${config.localStoreDir}/${config.storePrefix}`;
  const warehouse =
    config.warehouse === 'duckdb'
      ? `DuckDB file ${config.duckdbPath} (e.g. duckdb ${config.duckdbPath} "SELECT * FROM recommendations LIMIT 5")`
      : `BigQuery ${config.bigqueryProject}.${config.bigqueryDataset}`;
  return [
    `warehouse  ${warehouse}`,
    `files      ${store}runs/${run ? `${run.pipeline}/${run.runId}/` : '<pipeline>/<run id>/'}`,
    `models     ${store}${config.registryPrefix}  (npx bullpen models list)`,
    `serving    ${config.servingRedisUrl.replace(/\/\/[^@]*@/, '//***@')} keys ${config.servingPrefix}:{<namespace>}:*  (current version in ${config.servingPrefix}:{<namespace>}:current)`,
  ];
}
