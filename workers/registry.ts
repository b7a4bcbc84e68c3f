/**
 * The step type registry of a worker: step type name → declaration (schema)
 * and handler. Built-in types are registered by `builtinRegistry`.
 */
import type { ParamValues, PipelineDefinition, StepType } from '../flows/index.js';

export interface StepContext<I = unknown> {
  readonly input: I;
  /** Outputs of the step's dependencies, by step id. */
  readonly deps: Readonly<Record<string, unknown>>;
  readonly runId: string;
  readonly pipeline: string;
  readonly stepId: string;
  readonly params: ParamValues;
  readonly logicalTime: string;
  /** From the schedule's previous tick to the logical time (ISO 8601). */
  readonly dataInterval: { readonly start: string; readonly end: string };
  /** 1 on the first attempt. */
  readonly attempt: number;
  /** Aborted on timeout, cancel, shutdown or a lost lock: stop and clean up. */
  readonly signal: AbortSignal;
  /** Appends a line to the job log (shown by `runs show` and the dashboard). */
  log(message: string): void;
  progress(value: number | object): Promise<void>;
}

export type StepHandler<I = unknown, O = unknown> = (ctx: StepContext<I>) => Promise<O>;

export interface RegisteredStep {
  type: StepType;
  handler: StepHandler;
}

export class StepRegistry {
  private readonly steps = new Map<string, RegisteredStep>();

  register<I, O>(type: StepType<I, O>, handler: StepHandler<I, O>): this {
    if (this.steps.has(type.name)) throw new Error(`step type "${type.name}" is already registered`);
    this.steps.set(type.name, { type: type as StepType, handler: handler as StepHandler });
    return this;
  }

  get(name: string): RegisteredStep | undefined {
    return this.steps.get(name);
  }

  names(): string[] {
    return [...this.steps.keys()].sort();
  }

  /** Declarations by name, for validating pipelines against what workers can run. */
  catalog(): Map<string, StepType> {
    return new Map([...this.steps].map(([k, v]) => [k, v.type]));
  }
}

/** Index of task functions: pipeline id → step id → run function. */
export function taskIndex(pipelines: readonly PipelineDefinition[]): Map<string, Map<string, NonNullable<PipelineDefinition['steps'][number]['run']>>> {
  return new Map(
    pipelines.map((p) => [p.id, new Map(p.steps.flatMap((s) => (s.run ? [[s.id, s.run] as const] : [])))]),
  );
}
