/**
 * The pipeline model: what a definition holds once `definePipeline` has run.
 * Pure data plus the handler functions of `task` steps; nothing here touches
 * Redis or the file system.
 */
import type { z } from 'zod';

export type Pool = 'cpu' | 'gpu';

/** A declared kind of step: a name, an input schema and (as a type) its output. */
export interface StepType<I = unknown, O = unknown> {
  readonly kind: 'bullpen.step-type';
  readonly name: string;
  readonly input: z.ZodType<I>;
  /** Pool that runs this type unless a step asks for GPUs. @defaultValue 'cpu' */
  readonly pool: Pool;
  readonly description?: string;
  /** Type-only marker of the output; never set at run time. */
  readonly __output?: O;
}

export type ParamType = 'string' | 'int' | 'number' | 'boolean';
export type ParamValue = string | number | boolean;
export type ParamValues = Readonly<Record<string, ParamValue>>;

export interface ParamSpec {
  type: ParamType;
  /** Value used when a run does not give one; a param without a default is required. */
  default?: ParamValue;
  description?: string;
}

export interface Schedule {
  /** Five- or six-field cron expression, e.g. `0 6 * * 1` (Mondays 06:00). */
  cron: string;
  /** IANA time zone the cron is read in, e.g. `Europe/Berlin`. @defaultValue 'UTC' */
  tz?: string;
}

export interface Backoff {
  type: 'fixed' | 'exponential';
  /** Base delay between attempts. */
  delayMs: number;
}

export interface StepOptions {
  /** Extra attempts after the first failure. @defaultValue 0 */
  retries?: number;
  /** Delay between attempts. @defaultValue `{ type: 'exponential', delayMs: 1000 }` */
  backoff?: Backoff;
  /** The step is aborted (and its subprocesses killed) after this long. @defaultValue none */
  timeoutMs?: number;
  /** `gpu: n` (n ≥ 1) routes the step to the GPU pool. */
  resources?: { gpu?: number };
  /** BullMQ priority: 1 is the highest; unset runs in FIFO order. */
  priority?: number;
}

/** What a step's input may be: a value, or a function of the run, resolved when the run is created. */
export type InputOf<I> = I | ((run: RunInfo) => I);

export interface RunInfo {
  readonly runId: string;
  readonly pipeline: string;
  readonly params: ParamValues;
  /** The time the run stands for (a schedule tick, a backfill date), ISO 8601. */
  readonly logicalTime: string;
  /**
   * The data interval the run covers: from the schedule's previous tick to the
   * logical time (both ISO 8601). Unscheduled pipelines: start = end.
   */
  readonly dataInterval: { readonly start: string; readonly end: string };
}

/** A handle on a step, carrying its id and output type for typed dependencies. */
export interface StepRef<Id extends string = string, O = unknown> {
  readonly id: Id;
  readonly __output?: O;
}

export interface StepDefinition<Id extends string = string, O = unknown> extends StepRef<Id, O> {
  readonly kind: 'bullpen.step';
  /** Step type, by object (typed) or by registered name. */
  readonly type: StepType | string;
  readonly input: unknown;
  readonly dependsOn: readonly string[];
  readonly options: StepOptions;
  /** Handler of a `task` step, run by a worker. */
  readonly run?: TaskHandler<unknown, unknown>;
}

export interface TaskContext<D> extends RunInfo {
  readonly stepId: string;
  /** Outputs of the dependencies, by step id. */
  readonly deps: D;
  readonly attempt: number;
  readonly signal: AbortSignal;
  log(message: string): void;
  progress(value: number | object): Promise<void>;
}

export type TaskHandler<D, O> = (ctx: TaskContext<D>) => Promise<O> | O;

export interface RetentionOptions {
  /** Finished runs kept. @defaultValue config keepRuns */
  keepRuns?: number;
  /** Finished runs older than this many days are removed. @defaultValue config runMaxAgeDays */
  maxAgeDays?: number;
}

/** What a scheduler does with ticks it missed (it was down, or the pipeline paused). */
export type CatchupPolicy = 'latest' | 'all' | 'none';

export type AlertSeverity = 'critical' | 'error' | 'warning' | 'info';

/** Where and how a pipeline's alerts go (see monitoring/). Every field is optional. */
export interface AlertOptions {
  /** Slack channel for this pipeline's alerts. @defaultValue the configured default channel */
  slackChannel?: string;
  /** PagerDuty severity of this pipeline's incidents. @defaultValue the configured default ('error') */
  severity?: AlertSeverity;
  /** Local time (`HH:MM`) a run must have finished by, on its run day (the first such time at or after its logical time). */
  deadline?: string;
  /** IANA time zone of `deadline`. @defaultValue the schedule's tz, else UTC */
  tz?: string;
  /** Longest expected gap between successful runs, for the "no recent success" alert. @defaultValue twice the schedule's period; none if unscheduled */
  expectedIntervalMs?: number;
}

export interface PipelineDefinition {
  readonly kind: 'bullpen.pipeline';
  readonly id: string;
  readonly description: string;
  readonly owner: string;
  readonly params: Readonly<Record<string, ParamSpec>>;
  readonly schedule?: Schedule;
  readonly retention: RetentionOptions;
  readonly alerts?: AlertOptions;
  /** Missed ticks: one run for the latest (default), one per tick, or none. */
  readonly catchup: CatchupPolicy;
  /** Runs of this pipeline active at once; more wait in logical-time order. @defaultValue 1 */
  readonly maxActiveRuns: number;
  readonly steps: readonly StepDefinition[];
  /** File the definition was loaded from, when loaded from a folder. */
  source?: string;
}

/** One problem found in a definition: where, and what is wrong. */
export interface Problem {
  pipeline: string;
  step?: string;
  /** Path inside the pipeline or step, e.g. `input.argv`. */
  path?: string;
  message: string;
  source?: string;
}
