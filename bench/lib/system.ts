/** What the bench needs from each system under test (raw BullMQ, Bullpen). */
import type { Shape } from './shapes.js';

/** `tree`: a BullMQ parent/child edge; `gate`: a Bullpen fan-out edge through a gate job. */
/** tree: the dependency is a tree child; gate: through a gate job; await: the dependent is promoted when it finishes. */
export type EdgeKind = 'tree' | 'gate' | 'await';

/** A dependency edge as the system encodes it: `dependent` may start once `dep` is done. */
export interface Edge {
  dep: string;
  dependent: string;
  kind: EdgeKind;
}

export interface JobRef {
  queue: string;
  jobId: string;
}

/** Worker settings shared by both systems. */
export const WORKER_SETTINGS = {
  concurrency: 50,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
} as const;

export interface BenchSystem {
  /** Name for tables. */
  readonly name: string;
  /** Short name for flags and job ids. */
  readonly key: 'raw' | 'bullpen';
  /** Starts the workers and producers; resolves once they are connected. */
  start(): Promise<void>;
  /** Label of the shape as this system runs it. */
  shapeLabel(shape: Shape): string;
  /** The edges of the shape in this system's encoding (only these are measured). */
  edges(shape: Shape): Edge[];
  /** Creates one run; `runKey` is unique within the bench. */
  create(shape: Shape, runKey: string): Promise<void>;
  /** The job of a step of a run. */
  stepJob(shape: Shape, runKey: string, stepId: string): JobRef;
  /** The job whose completion marks the run finished. */
  finalJob(shape: Shape, runKey: string): JobRef;
  /** Entries a finished run adds to the completed set of `finalJob`'s queue. */
  completionsPerRun(shape: Shape): number;
  /** BullMQ jobs one run creates and processes (steps plus any bookkeeping jobs). */
  jobsPerRun(shape: Shape): number;
  /** The gate job of a gate edge (Bullpen only). */
  gateJob?(shape: Shape, runKey: string, edge: Edge): JobRef;
  close(): Promise<void>;
}
