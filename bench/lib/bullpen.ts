/**
 * Bullpen under test: the same shapes as pipelines of no-op `task` steps, run
 * by an in-process worker pool, created with RunCreator.start (one
 * FlowProducer.add per run, plus Bullpen's bookkeeping).
 */
import type { Redis } from 'ioredis';
import { GATES_QUEUE, RUNS_QUEUE, stepQueue } from '../../common/names.js';
import { connect } from '../../common/redis.js';
import {
  compileRun,
  definePipeline,
  gateJobId,
  runIdFor,
  stepJobId,
  task,
  validatePipelines,
  type PipelineDefinition,
} from '../../flows/index.js';
import { RunCreator } from '../../producer/runs.js';
import { builtinRegistry } from '../../workers/builtin.js';
import type { StepRegistry } from '../../workers/registry.js';
import { startWorkerPool, type WorkerPool } from '../../workers/worker.js';
import type { Shape } from './shapes.js';
import { WORKER_SETTINGS, type BenchSystem, type Edge, type JobRef } from './system.js';

const TASK_QUEUE = stepQueue('task', 'cpu');

export function pipelineOf(shape: Shape): PipelineDefinition {
  return definePipeline({
    id: shape.id,
    maxActiveRuns: 100_000, // the bench measures the engine, not admission
    steps: shape.steps.map((s) => task(s.id, { dependsOn: s.dependsOn, run: () => null })),
  });
}

/** Wiring experiments (bench-side only, through Bullpen's public options). */
export interface BullpenWiring {
  /** `enableAutoPipelining` on the connection the pool and producer use for non-blocking commands. */
  autoPipelining?: boolean;
  /** Give RunCreator its own connection instead of sharing the pool's (as a separate producer process would). */
  splitProducerConnection?: boolean;
}

export class Bullpen implements BenchSystem {
  readonly name = 'Bullpen';
  readonly key = 'bullpen' as const;
  private readonly connection: Redis;
  private readonly producerConnection: Redis;
  private readonly registry: StepRegistry;
  private readonly runs: RunCreator;
  private pool: WorkerPool | undefined;
  private readonly edgeCache = new Map<string, Edge[]>();
  private readonly pipelines: PipelineDefinition[];

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    shapes: readonly Shape[],
    wiring: BullpenWiring = {},
  ) {
    this.pipelines = shapes.map(pipelineOf);
    this.registry = builtinRegistry(this.pipelines);
    const problems = validatePipelines(this.pipelines, this.registry.catalog());
    if (problems.length) throw new Error(`bench pipelines invalid: ${JSON.stringify(problems)}`);
    this.connection = connect(url, wiring.autoPipelining ? { enableAutoPipelining: true } : {});
    this.producerConnection = wiring.splitProducerConnection ? connect(url) : this.connection;
    this.runs = new RunCreator({
      connection: this.producerConnection,
      prefix,
      pipelines: this.pipelines,
      catalog: this.registry.catalog(),
      keepRuns: 1_000_000, // never trim during the bench
      runMaxAgeDays: 30,
    });
  }

  async start(): Promise<void> {
    this.pool = startWorkerPool({
      redisUrl: this.url,
      connection: this.connection,
      prefix: this.prefix,
      registry: this.registry,
      concurrency: WORKER_SETTINGS.concurrency,
      lockDurationMs: WORKER_SETTINGS.lockDurationMs,
      stalledIntervalMs: WORKER_SETTINGS.stalledIntervalMs,
    });
    await this.pool.ready();
  }

  shapeLabel(shape: Shape): string {
    return shape.label;
  }

  /** Edges and their kinds exactly as Bullpen compiles them: tree child, gate child, or an awaited (promoted) dependency. */
  edges(shape: Shape): Edge[] {
    let edges = this.edgeCache.get(shape.id);
    if (!edges) {
      const p = this.pipelines.find((x) => x.id === shape.id)!;
      const runId = runIdFor(shape.id, 'edges');
      const plan = compileRun(p, { runId, pipeline: p.id, params: {}, logicalTime: new Date(0).toISOString() }, this.registry.catalog());
      edges = plan.steps.flatMap((s) =>
        Object.entries(s.depJobs).map(([childJob, dep]): Edge => ({
          dep,
          dependent: s.stepId,
          kind: s.awaits.length ? 'await' : childJob === stepJobId(runId, dep) ? 'tree' : 'gate',
        })),
      );
      this.edgeCache.set(shape.id, edges);
    }
    return edges;
  }

  async create(shape: Shape, runKey: string): Promise<void> {
    const { runId, created } = await this.runs.start(shape.id, { key: runKey });
    if (!created || runId !== runIdFor(shape.id, runKey)) throw new Error(`run ${runId} was not created`);
  }

  stepJob(shape: Shape, runKey: string, stepId: string): JobRef {
    return { queue: TASK_QUEUE, jobId: stepJobId(runIdFor(shape.id, runKey), stepId) };
  }

  finalJob(shape: Shape, runKey: string): JobRef {
    return { queue: RUNS_QUEUE, jobId: runIdFor(shape.id, runKey) };
  }

  completionsPerRun(): number {
    return 1;
  }

  /** Steps, one gate per gate edge, and the run's root job. */
  jobsPerRun(shape: Shape): number {
    return shape.steps.length + this.edges(shape).filter((e) => e.kind === 'gate').length + 1;
  }

  gateJob(shape: Shape, runKey: string, edge: Edge): JobRef {
    return { queue: GATES_QUEUE, jobId: gateJobId(runIdFor(shape.id, runKey), edge.dep, edge.dependent) };
  }

  async close(): Promise<void> {
    await this.pool?.close(0);
    await this.runs.close();
    if (this.producerConnection !== this.connection) await this.producerConnection.quit();
    await this.connection.quit();
  }
}
