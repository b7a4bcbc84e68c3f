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
  dataInterval: { start: string; end: string };
  /** What made the run: `manual`, `schedule`, `backfill`, `retry`, … */
  trigger: string;
  createdAt: number;
  /** Admission lane (maxActiveRuns): usually the pipeline id. */
  lane: string;
  /** 1 for the first attempt; a retry makes a new root `<runId>~<attempt>`. */
  attempt: number;
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
  dataInterval: { start: string; end: string };
  /** Job id of the run root of this attempt (queue `runs`). */
  root: string;
  /** Child job id → dependency step id (owned steps and gates). */
  deps: Record<string, string>;
  /** Gate job ids (queue `gates`) to promote when this step finishes. */
  gates: string[];
  /** Shared dependencies this step awaits (it was added delayed); their outputs are read from their jobs. */
  awaits?: { stepId: string; queue: string; jobId: string }[];
  /** Steps awaiting this one (delayed), to promote when it finishes. */
  wakes?: { queue: string; jobId: string }[];
  timeoutMs?: number;
}

/**
 * Data of a gate job (queue `gates`): waits for `target` (a step, or the
 * run's admit job) and passes its output on; or, with `value`, a step reused
 * from an earlier attempt, completing at once with that output.
 */
export interface GateJobData {
  runId: string;
  /** The dependent step whose child this gate is. */
  stepId: string;
  target?: { stepId: string; queue: string; jobId: string };
  value?: unknown;
}

/** Data of a run's admit job (queue `admission`): completes when the run holds a slot of its lane. */
export interface AdmitJobData {
  runId: string;
  lane: string;
  /** Gates on this admit job, to promote on admission. */
  gates: string[];
}

/** Marker at the start of the failure reason of a step that never ran because its run had already failed. */
export const SKIPPED_PREFIX = 'skipped: ';
/** Failure reason of steps aborted or skipped because the run was cancelled. */
export const CANCELLED_REASON = 'cancelled: the run was cancelled';
