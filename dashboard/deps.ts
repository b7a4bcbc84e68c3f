/**
 * What the dashboard needs from the rest of Bullpen, as an interface: the CLI
 * wires it to the producer's reader, creator and control (the same code paths
 * as `bullpen run|retry|cancel|pause|resume`), tests may wire their own.
 */
import type { Queue } from 'bullmq';
import type { PipelineDefinition } from '../flows/index.js';

export type RunStatus = 'waiting' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelling' | 'cancelled';
export type StepStatus = 'pending' | 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'missing';

/** A step as the grid shows it. */
export interface StepCell {
  id: string;
  status: StepStatus;
  attempts: number;
  durationMs?: number;
}

/** A run as listings show it. */
export interface RunRow {
  runId: string;
  pipeline: string;
  status: RunStatus;
  trigger: string;
  logicalTime: string;
  createdAt: number;
  finishedAt?: number;
  attempt: number;
  steps: StepCell[];
}

/** A step in full, for the run page. */
export interface StepDetail extends StepCell {
  jobId: string;
  queue: string;
  dependsOn: string[];
  startedAt?: number;
  output?: unknown;
  error?: string;
}

export interface RunDetail extends Omit<RunRow, 'steps'> {
  params: Record<string, unknown>;
  waitingBehind?: number;
  steps: StepDetail[];
}

export interface DashboardDeps {
  pipelines: readonly PipelineDefinition[];
  /** Runs of a pipeline, newest first, and how many it has in all. */
  listRuns(pipeline: string, offset: number, limit: number): Promise<{ total: number; runs: RunRow[] }>;
  /** The latest runs of each pipeline, newest first, for the dots on `/` (steps may be left empty). */
  recentRuns(pipelines: readonly string[], limit: number): Promise<Map<string, RunRow[]>>;
  getRun(runId: string): Promise<RunDetail | undefined>;
  /** The last lines of a step job's log. */
  logs(queue: string, jobId: string): Promise<string[]>;
  /**
   * Starts a run (params as typed in the form: strings, converted like `run -p`),
   * with an optional idempotency key and logical date, as `bullpen run --key --logical-date`.
   */
  trigger(pipeline: string, params: Record<string, string>, opts?: { key?: string; logicalDate?: string }): Promise<{ runId: string; created: boolean }>;
  retry(runId: string): Promise<{ attempt: number }>;
  cancel(runId: string): Promise<unknown>;
  pause(pipeline: string): Promise<unknown>;
  resume(pipeline: string): Promise<unknown>;
  paused(): Promise<Set<string>>;
  /** Every queue for Bull Board: runs, gates and each step queue. */
  queues: readonly Queue[];
  /** Prometheus registry (prom-client) served at `/metrics`. */
  metrics?: { contentType: string; metrics(): Promise<string> };
  /** Errors a user caused (unknown run, bad params): shown with their message, status 400. */
  isUserError(err: unknown): boolean;
}
