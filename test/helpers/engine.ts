/**
 * An in-process Bullpen on the test Redis, under a unique key prefix that is
 * deleted afterwards: the producer objects plus worker pools.
 */
import { randomBytes } from 'node:crypto';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Pool } from '../../common/names.js';
import { connect, deletePrefix, ownedConnection } from '../../common/redis.js';
import { catalogOf, validatePipelines, type PipelineDefinition } from '../../flows/index.js';
import { RunControl } from '../../producer/control.js';
import { RunCreator } from '../../producer/runs.js';
import { RunReader, type RunState } from '../../producer/state.js';
import { RunWatcher } from '../../producer/watch.js';
import { builtinRegistry } from '../../workers/builtin.js';
import type { StepRegistry } from '../../workers/registry.js';
import { startWorkerPool, type WorkerPoolOptions, type WorkerPool } from '../../workers/worker.js';

export function testRedisUrl(): string {
  return process.env.BULLPEN_TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export function uniquePrefix(label: string): string {
  return `{bp-test-${label}-${randomBytes(4).toString('hex')}}`;
}

export { deletePrefix } from '../../common/redis.js';

export interface TestEngine {
  url: string;
  prefix: string;
  connection: Redis;
  registry: StepRegistry;
  runs: RunCreator;
  reader: RunReader;
  watcher: RunWatcher;
  control: RunControl;
  /** Starts a worker pool in this process (closed by `close`). */
  worker(opts?: Partial<WorkerPoolOptions> & { pool?: Pool }): Promise<WorkerPool>;
  /** Resolves when a step's job has finished (completed or failed), with its state. */
  stepFinished(runId: string, stepId: string, queue?: string): Promise<void>;
  /** Starts a run and waits for its end. */
  runToEnd(pipeline: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<RunState>;
  close(): Promise<void>;
}

export interface EngineOptions {
  label: string;
  pipelines: PipelineDefinition[];
  registry?: StepRegistry;
  keepRuns?: number;
  runMaxAgeDays?: number;
}

export async function createEngine(opts: EngineOptions): Promise<TestEngine> {
  const url = testRedisUrl();
  const prefix = uniquePrefix(opts.label);
  const connection = connect(url);
  const registry = opts.registry ?? builtinRegistry(opts.pipelines);
  const problems = validatePipelines(opts.pipelines, registry.catalog());
  if (problems.length) throw new Error(`test pipelines invalid: ${JSON.stringify(problems)}`);
  const runs = new RunCreator({
    connection,
    prefix,
    pipelines: opts.pipelines,
    catalog: registry.catalog().size ? registry.catalog() : catalogOf(opts.pipelines),
    keepRuns: opts.keepRuns ?? 100,
    runMaxAgeDays: opts.runMaxAgeDays ?? 30,
  });
  const reader = new RunReader(connection, prefix);
  const watcher = new RunWatcher(ownedConnection(url), prefix, reader);
  const pools: WorkerPool[] = [];
  return {
    url,
    prefix,
    connection,
    registry,
    runs,
    reader,
    watcher,
    control: new RunControl(connection, prefix, runs, reader),
    async worker(w = {}) {
      const pool = startWorkerPool({ redisUrl: url, connection, prefix, registry, stalledIntervalMs: 5000, ...w });
      pools.push(pool);
      await pool.ready();
      return pool;
    },
    async stepFinished(runId, stepId, queue) {
      const q = queue ?? (await reader.get(runId))?.steps.find((s) => s.id === stepId)?.queue;
      if (!q) throw new Error(`no step ${stepId} in run ${runId}`);
      const events = new QueueEvents(q, { connection: ownedConnection(url), prefix });
      try {
        await events.waitUntilReady();
        const job = await Job.fromId(new Queue(q, { connection, prefix }), `${runId}.${stepId}`);
        await job!.waitUntilFinished(events, 30_000).catch(() => undefined);
      } finally {
        await events.close();
      }
    },
    async runToEnd(pipeline, params = {}, timeoutMs = 30_000) {
      const { runId } = await runs.start(pipeline, { params });
      return watcher.wait(runId, timeoutMs);
    },
    async close() {
      await Promise.all(pools.map((p) => p.close(0)));
      await Promise.all([runs.close(), reader.close(), watcher.close()]);
      await deletePrefix(connection, prefix);
      await connection.quit();
    },
  };
}
