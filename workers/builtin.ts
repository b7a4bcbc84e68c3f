/** A registry with the built-in step types: shell, task, and the ML step types on their backends. */
import { loadBackendConfig } from '../common/backend-config.js';
import {
  kvExport,
  registryPublish,
  shell,
  taskType,
  train,
  transform,
  warehouseExtract,
  warehouseLoad,
  warehouseQuery,
  warehouseWrite,
  type PipelineDefinition,
} from '../flows/index.js';
import { createBackends, type Backends } from './backends/index.js';
import { StepRegistry } from './registry.js';
import { kvExportHandler } from './steps/kv-export.js';
import { publishHandler } from './steps/publish.js';
import { runShell } from './steps/shell.js';
import { taskHandler } from './steps/task.js';
import { trainHandler } from './steps/train.js';
import { transformHandler } from './steps/transform.js';
import { extractHandler, loadHandler, queryHandler, writeHandler } from './steps/warehouse.js';

/**
 * Backends made on first use from the environment (`loadBackendConfig`), for
 * registries built without explicit backends (validation, tests of other
 * step types): nothing is read or opened until an ML step runs.
 */
export function lazyBackends(make: () => Backends = () => createBackends(loadBackendConfig())): Backends {
  let b: Backends | undefined;
  const get = (): Backends => (b ??= make());
  return {
    get config() {
      return get().config;
    },
    warehouse: () => get().warehouse(),
    store: () => get().store(),
    registry: () => get().registry(),
    serving: () => get().serving(),
    breakers: () => b?.breakers() ?? [],
    close: async () => b?.close(),
  };
}

export function builtinRegistry(pipelines: readonly PipelineDefinition[], backends: Backends = lazyBackends()): StepRegistry {
  return new StepRegistry()
    .register(shell, runShell)
    .register(taskType, taskHandler(pipelines))
    .register(warehouseExtract, extractHandler(backends))
    .register(warehouseLoad, loadHandler(backends))
    .register(warehouseQuery, queryHandler(backends))
    .register(warehouseWrite, writeHandler(backends))
    .register(transform, transformHandler(backends, pipelines))
    .register(train, trainHandler(backends))
    .register(registryPublish, publishHandler(backends))
    .register(kvExport, kvExportHandler(backends));
}
