/**
 * What every command needs, built once: configuration, pipelines (loaded and
 * validated against the step types workers can run), the Redis connection and
 * the producer objects. Failures here are user errors: clear message, exit 2.
 */
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../common/config.js';
import { checkRedis, connect } from '../common/redis.js';
import { PipelineDefinitionError, loadPipelines, validatePipelines, type PipelineDefinition } from '../flows/index.js';
import { RunControl } from '../producer/control.js';
import { RunCreator } from '../producer/runs.js';
import { RunReader } from '../producer/state.js';
import { RunWatcher } from '../producer/watch.js';
import { ownedConnection } from '../common/redis.js';
import { loadBackendConfig } from '../common/backend-config.js';
import { createBackends, type Backends } from '../workers/backends/index.js';
import { builtinRegistry } from '../workers/builtin.js';
import type { StepRegistry } from '../workers/registry.js';

/** An error the user can fix: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface App {
  config: Config;
  pipelines: PipelineDefinition[];
  registry: StepRegistry;
  connection: Redis;
  runs: RunCreator;
  reader: RunReader;
  control: RunControl;
  watcher(): RunWatcher;
  close(): Promise<void>;
}

/** Loads and validates every pipeline; throws PipelineDefinitionError listing all problems. */
export async function loadValidated(dir: string, backends?: Backends): Promise<{ pipelines: PipelineDefinition[]; registry: StepRegistry }> {
  const { pipelines, problems } = await loadPipelines(dir).catch((err: Error) => {
    throw new UsageError(err.message);
  });
  const registry = builtinRegistry(pipelines, backends);
  problems.push(...validatePipelines(pipelines, registry.catalog()));
  if (problems.length) throw new PipelineDefinitionError(problems);
  return { pipelines, registry };
}

export async function openApp(overrides: Partial<Config> = {}): Promise<App> {
  const config = loadConfig(overrides);
  const backends = createBackends(loadBackendConfig()); // validated at start-up: a ConfigError names the variable
  const [{ pipelines, registry }, redisInfo] = await Promise.all([loadValidated(config.pipelinesDir, backends), checkRedis(config.redisUrl)]);
  for (const w of redisInfo.warnings) console.error(`warning: ${w}`);
  const connection = connect(config.redisUrl);
  const runs = new RunCreator({
    connection,
    prefix: config.prefix,
    pipelines,
    catalog: registry.catalog(),
    keepRuns: config.keepRuns,
    runMaxAgeDays: config.runMaxAgeDays,
  });
  const reader = new RunReader(connection, config.prefix);
  let watcher: RunWatcher | undefined;
  return {
    config,
    pipelines,
    registry,
    connection,
    runs,
    reader,
    control: new RunControl(connection, config.prefix, runs, reader),
    watcher: () => (watcher ??= new RunWatcher(ownedConnection(config.redisUrl), config.prefix, reader)),
    close: async () => {
      await Promise.all([runs.close(), reader.close(), watcher?.close(), backends.close()]);
      await connection.quit();
    },
  };
}
