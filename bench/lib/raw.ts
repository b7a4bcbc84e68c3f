/**
 * The baseline: the same shapes as plain BullMQ flows, one queue, a no-op
 * processor, one FlowProducer.add per run.
 *
 * BullMQ flows are trees (a job has one parent), so a step with several
 * dependents cannot be expressed: it is kept as a child of its first
 * dependent only, and the other dependents lose that edge (they become
 * leaves). For 1→10→1 that is: sink ← m0..m9, m0 ← src; m1..m9 start at once.
 */
import { FlowProducer, Worker, type FlowJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { connect, ownedConnection } from '../../common/redis.js';
import type { Shape } from './shapes.js';
import { WORKER_SETTINGS, type BenchSystem, type Edge, type JobRef } from './system.js';

export const RAW_QUEUE = 'raw.steps';

interface Tree {
  /** Step id → its tree children (dependencies kept as edges). */
  children: Map<string, string[]>;
  root: string;
  edges: Edge[];
}

/** The closest tree to the shape: each step is owned by its first dependent. */
export function closestTree(shape: Shape): Tree {
  const owner = new Map<string, string>();
  const children = new Map<string, string[]>(shape.steps.map((s) => [s.id, []]));
  const edges: Edge[] = [];
  for (const s of shape.steps) {
    for (const dep of s.dependsOn) {
      if (owner.has(dep)) continue; // a second dependent: not expressible in a tree
      owner.set(dep, s.id);
      children.get(s.id)!.push(dep);
      edges.push({ dep, dependent: s.id, kind: 'tree' });
    }
  }
  const roots = shape.steps.filter((s) => !owner.has(s.id));
  if (roots.length !== 1) throw new Error(`shape ${shape.id}: raw encoding needs exactly one sink, got ${roots.length}`);
  return { children, root: roots[0]!.id, edges };
}

export class RawBullMQ implements BenchSystem {
  readonly name = 'raw BullMQ';
  readonly key = 'raw' as const;
  private readonly connection: Redis;
  private readonly flows: FlowProducer;
  private worker: Worker | undefined;
  private readonly trees = new Map<string, Tree>();

  constructor(
    private readonly url: string,
    private readonly prefix: string,
  ) {
    this.connection = connect(url);
    this.flows = new FlowProducer({ connection: this.connection, prefix });
  }

  private tree(shape: Shape): Tree {
    let t = this.trees.get(shape.id);
    if (!t) this.trees.set(shape.id, (t = closestTree(shape)));
    return t;
  }

  async start(): Promise<void> {
    this.worker = new Worker(RAW_QUEUE, async () => null, {
      connection: ownedConnection(this.url),
      prefix: this.prefix,
      concurrency: WORKER_SETTINGS.concurrency,
      lockDuration: WORKER_SETTINGS.lockDurationMs,
      stalledInterval: WORKER_SETTINGS.stalledIntervalMs,
      autorun: true,
    });
    this.worker.on('error', (err) => console.error(`[raw worker] ${err.message}`));
    await this.worker.waitUntilReady();
  }

  shapeLabel(shape: Shape): string {
    const t = this.tree(shape);
    const kept = t.edges.length;
    const all = shape.steps.reduce((n, s) => n + s.dependsOn.length, 0);
    return kept === all ? shape.label : `${shape.label} (raw: closest tree)`;
  }

  edges(shape: Shape): Edge[] {
    return this.tree(shape).edges;
  }

  async create(shape: Shape, runKey: string): Promise<void> {
    const t = this.tree(shape);
    const node = (stepId: string): FlowJob => {
      const kids = t.children.get(stepId)!;
      return {
        name: stepId,
        queueName: RAW_QUEUE,
        data: { run: runKey, step: stepId },
        opts: { jobId: `${runKey}.${stepId}` },
        ...(kids.length ? { children: kids.map(node) } : {}),
      };
    };
    await this.flows.add(node(t.root));
  }

  stepJob(_shape: Shape, runKey: string, stepId: string): JobRef {
    return { queue: RAW_QUEUE, jobId: `${runKey}.${stepId}` };
  }

  finalJob(shape: Shape, runKey: string): JobRef {
    return this.stepJob(shape, runKey, this.tree(shape).root);
  }

  completionsPerRun(shape: Shape): number {
    return shape.steps.length;
  }

  jobsPerRun(shape: Shape): number {
    return shape.steps.length;
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.flows.close();
    await this.connection.quit();
  }
}
