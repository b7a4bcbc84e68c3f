/**
 * The pipeline DSL: `defineStepType`, `step`, `task` and `definePipeline`.
 * These only record what they are given; `validate` finds every problem later,
 * all at once, so a broken file reports everything in one go.
 */
import type { z } from 'zod';
import type {
  AlertOptions,
  CatchupPolicy,
  InputOf,
  ParamSpec,
  PipelineDefinition,
  Pool,
  RetentionOptions,
  Schedule,
  StepDefinition,
  StepOptions,
  StepRef,
  StepType,
  TaskHandler,
} from './types.js';

/**
 * Declares a step type. The output type is given explicitly, the input type
 * comes from the schema: `defineStepType<ShellOutput>()({ name: 'shell', input })`.
 */
export function defineStepType<O>() {
  return <S extends z.ZodType>(spec: {
    name: string;
    input: S;
    pool?: Pool;
    description?: string;
  }): StepType<z.input<S>, O> => ({
    kind: 'bullpen.step-type',
    name: spec.name,
    input: spec.input as z.ZodType<z.input<S>>,
    pool: spec.pool ?? 'cpu',
    ...(spec.description !== undefined ? { description: spec.description } : {}),
  });
}

type Dep = StepRef | string;

/** Outputs of a list of dependencies, keyed by step id (typed where refs are given). */
export type DepsOf<D extends readonly Dep[]> = {
  [R in D[number] as R extends StepRef<infer Id> ? Id : R extends string ? R : never]: R extends StepRef<
    string,
    infer O
  >
    ? O
    : unknown;
};

export type OutputOf<R> = R extends StepRef<string, infer O> ? O : never;

export interface StepSpec<D extends readonly Dep[]> extends StepOptions {
  /** Steps whose outputs this one needs; it starts when all have completed. */
  dependsOn?: D;
}

function depIds(deps: readonly Dep[] | undefined): string[] {
  return (deps ?? []).map((d) => (typeof d === 'string' ? d : d.id));
}

function options(spec: StepOptions): StepOptions {
  const { retries, backoff, timeoutMs, resources, priority } = spec;
  return Object.fromEntries(
    Object.entries({ retries, backoff, timeoutMs, resources, priority }).filter(([, v]) => v !== undefined),
  ) as StepOptions;
}

/** A step of a declared type, with input checked by the type's schema. */
export function step<const Id extends string, I, O, const D extends readonly Dep[] = []>(
  id: Id,
  type: StepType<I, O>,
  input: InputOf<I>,
  spec: StepSpec<D> = {},
): StepDefinition<Id, O> {
  return { kind: 'bullpen.step', id, type, input, dependsOn: depIds(spec.dependsOn), options: options(spec) };
}

/** A step of a type known only by name (e.g. registered by a plugin); untyped output. */
export function stepOf<const Id extends string, const D extends readonly Dep[] = []>(
  id: Id,
  typeName: string,
  input: unknown,
  spec: StepSpec<D> = {},
): StepDefinition<Id, unknown> {
  return { kind: 'bullpen.step', id, type: typeName, input, dependsOn: depIds(spec.dependsOn), options: options(spec) };
}

/** A step whose handler is a TypeScript function; `ctx.deps` is typed from `dependsOn`. */
export function task<const Id extends string, O, const D extends readonly Dep[] = []>(
  id: Id,
  spec: StepSpec<D> & { run: TaskHandler<DepsOf<D>, O> },
): StepDefinition<Id, Awaited<O>> {
  return {
    kind: 'bullpen.step',
    id,
    type: 'task',
    input: {},
    dependsOn: depIds(spec.dependsOn),
    options: options(spec),
    run: spec.run as TaskHandler<unknown, unknown>,
  };
}

export interface PipelineSpec {
  /** Unique id: letters, digits, `-` and `_`, starting with a letter. */
  id: string;
  description?: string;
  owner?: string;
  params?: Record<string, ParamSpec>;
  schedule?: Schedule;
  retention?: RetentionOptions;
  /** Slack channel, PagerDuty severity, deadline and expected interval of this pipeline's alerts. */
  alerts?: AlertOptions;
  /** Missed ticks: `latest` (default: one run for the most recent), `all` (one per tick, oldest first), `none`. */
  catchup?: CatchupPolicy;
  /** Runs active at once; extra runs wait in logical-time order. @defaultValue 1 */
  maxActiveRuns?: number;
  steps: readonly StepDefinition[];
}

export function definePipeline(spec: PipelineSpec): PipelineDefinition {
  return {
    kind: 'bullpen.pipeline',
    id: spec.id,
    description: spec.description ?? '',
    owner: spec.owner ?? '',
    params: spec.params ?? {},
    ...(spec.schedule ? { schedule: spec.schedule } : {}),
    retention: spec.retention ?? {},
    ...(spec.alerts ? { alerts: spec.alerts } : {}),
    catchup: spec.catchup ?? 'latest',
    maxActiveRuns: spec.maxActiveRuns ?? 1,
    steps: spec.steps,
  };
}

export function isPipeline(value: unknown): value is PipelineDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'bullpen.pipeline';
}

export function stepTypeName(type: StepType | string): string {
  return typeof type === 'string' ? type : type.name;
}

/** Input type of a step type, for handlers: `StepInput<typeof shell>`. */
export type StepInput<T> = T extends StepType<infer I, unknown> ? I : never;
