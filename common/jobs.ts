/**
 * The data BullMQ jobs carry: the contract between producer/ (which writes
 * it) and workers/ (which reads it). Plain JSON only.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Data of a run's root job (queue `runs`, job id = run id). */
export interface RunJobData {
  runId: string;
  pipeline: string;
  params: Record<string, string | number | boolean>;
  logicalTime: string;
  /** What made the run: `manual`, `schedule`, `backfill`, … */
  trigger: string;
  createdAt: number;
  steps: { id: string; jobId: string; queue: string; dependsOn: string[] }[];
}

/** Data of a step job (queue `step.<type>@<pool>`, job id `<runId>.<stepId>`). */
export interface StepJobData {
  runId: string;
  pipeline: string;
  stepId: string;
  type: string;
  input: unknown;
  params: Record<string, string | number | boolean>;
  logicalTime: string;
  /** Child job id → dependency step id (owned steps and gates). */
  deps: Record<string, string>;
  /** Gate job ids (queue `gates`) to promote when this step finishes. */
  gates: string[];
  timeoutMs?: number;
}

/** Data of a gate job (queue `gates`): waits for `target` and passes its output on. */
export interface GateJobData {
  runId: string;
  /** The dependent step whose child this gate is. */
  stepId: string;
  target: { stepId: string; queue: string; jobId: string };
}

/** Marker at the start of the failure reason of a step that never ran because its run had already failed. */
export const SKIPPED_PREFIX = 'skipped: ';
