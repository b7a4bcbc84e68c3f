/**
 * Validation of pipeline definitions: every problem in every pipeline, at
 * once, each naming the pipeline, the step and what is wrong.
 */
import type { z } from 'zod';
import { BUILTIN_STEP_TYPES } from './builtin.js';
import { stepTypeName } from './define.js';
import { PipelineDefinitionError } from './errors.js';
import { PARAM_TYPES, paramTypeError } from './params.js';
import { cronError, isValidTimeZone } from './schedule.js';
import type { ParamValue, PipelineDefinition, Problem, RunInfo, StepDefinition, StepType } from './types.js';

const ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const ID_RULE = 'must start with a letter and hold only letters, digits, "-" and "_" (at most 64)';

export type StepTypeCatalog = ReadonlyMap<string, StepType>;

/** Built-in types plus every type object the pipelines reference. */
export function catalogOf(pipelines: readonly PipelineDefinition[], extra: readonly StepType[] = []): Map<string, StepType> {
  const map = new Map<string, StepType>();
  for (const t of [...BUILTIN_STEP_TYPES, ...extra]) map.set(t.name, t as StepType);
  for (const p of pipelines) {
    for (const s of p.steps ?? []) if (typeof s.type === 'object' && s.type !== null) map.set(s.type.name, s.type);
  }
  return map;
}

export function validatePipelines(
  pipelines: readonly PipelineDefinition[],
  catalog: StepTypeCatalog = catalogOf(pipelines),
): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, string | undefined>();
  for (const p of pipelines) {
    const prior = seen.get(p.id);
    if (seen.has(p.id)) {
      problems.push({
        pipeline: p.id,
        message: `duplicate pipeline id (also defined in ${prior ?? 'another definition'})`,
        ...src(p),
      });
    }
    seen.set(p.id, p.source);
    problems.push(...validatePipeline(p, catalog));
  }
  return problems;
}

/** Throws a PipelineDefinitionError listing every problem, if there is any. */
export function assertValid(pipelines: readonly PipelineDefinition[], catalog?: StepTypeCatalog): void {
  const problems = validatePipelines(pipelines, catalog);
  if (problems.length) throw new PipelineDefinitionError(problems);
}

function src(p: PipelineDefinition): { source?: string } {
  return p.source !== undefined ? { source: p.source } : {};
}

export function validatePipeline(p: PipelineDefinition, catalog: StepTypeCatalog): Problem[] {
  const problems: Problem[] = [];
  const at = (message: string, step?: string, path?: string): void => {
    problems.push({
      pipeline: p.id,
      message,
      ...(step !== undefined ? { step } : {}),
      ...(path !== undefined ? { path } : {}),
      ...src(p),
    });
  };
  if (typeof p.id !== 'string' || !ID.test(p.id)) at(`invalid pipeline id ${JSON.stringify(p.id)}: ${ID_RULE}`);
  for (const [name, spec] of Object.entries(p.params ?? {})) {
    if (!ID.test(name)) at(`invalid param name ${JSON.stringify(name)}: ${ID_RULE}`, undefined, `params.${name}`);
    if (!PARAM_TYPES.includes(spec.type)) {
      at(`unknown param type ${JSON.stringify(spec.type)} (use ${PARAM_TYPES.join(', ')})`, undefined, `params.${name}`);
    } else if (spec.default !== undefined) {
      const err = paramTypeError(spec.type, spec.default);
      if (err) at(`default ${err}`, undefined, `params.${name}.default`);
    }
  }
  if (p.schedule) {
    const err = cronError(p.schedule.cron);
    if (err) at(err, undefined, 'schedule.cron');
    if (p.schedule.tz !== undefined && !isValidTimeZone(p.schedule.tz)) {
      at(`unknown time zone ${JSON.stringify(p.schedule.tz)} (use an IANA name such as Europe/Berlin)`, undefined, 'schedule.tz');
    }
  }
  if (!['latest', 'all', 'none'].includes(p.catchup)) {
    at(`catchup must be latest, all or none, got ${JSON.stringify(p.catchup)}`, undefined, 'catchup');
  }
  if (!(Number.isInteger(p.maxActiveRuns) && p.maxActiveRuns >= 1)) {
    at(`maxActiveRuns must be a whole number ≥ 1, got ${p.maxActiveRuns}`, undefined, 'maxActiveRuns');
  }
  if (p.alerts) validateAlerts(p.alerts, at);
  const steps = p.steps ?? [];
  if (steps.length === 0) at('has no steps');
  const ids = new Set<string>();
  for (const s of steps) {
    if (typeof s.id !== 'string' || !ID.test(s.id)) at(`invalid step id ${JSON.stringify(s.id)}: ${ID_RULE}`, String(s.id));
    if (ids.has(s.id)) at('duplicate step id', s.id);
    ids.add(s.id);
  }
  for (const s of steps) {
    for (const dep of s.dependsOn) {
      if (!ids.has(dep)) at(`depends on unknown step "${dep}"`, s.id, 'dependsOn');
      if (dep === s.id) at('depends on itself', s.id, 'dependsOn');
    }
    validateOptions(s, at);
    validateInput(p, s, catalog, at);
  }
  for (const cycle of findCycles(steps)) at(`dependency cycle: ${cycle.join(' -> ')}`, cycle[0]);
  return problems;
}

type At = (message: string, step?: string, path?: string) => void;

function validateOptions(s: StepDefinition, at: At): void {
  const o = s.options;
  const nonNegInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
  if (o.retries !== undefined && !nonNegInt(o.retries)) at(`retries must be a whole number ≥ 0, got ${o.retries}`, s.id, 'retries');
  if (o.timeoutMs !== undefined && !(Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)) {
    at(`timeoutMs must be > 0, got ${o.timeoutMs}`, s.id, 'timeoutMs');
  }
  if (o.resources?.gpu !== undefined && !nonNegInt(o.resources.gpu)) {
    at(`resources.gpu must be a whole number ≥ 0, got ${o.resources.gpu}`, s.id, 'resources.gpu');
  }
  if (o.priority !== undefined && !(Number.isInteger(o.priority) && o.priority >= 1 && o.priority <= 2_097_152)) {
    at(`priority must be a whole number from 1 (highest) to 2097152, got ${o.priority}`, s.id, 'priority');
  }
  if (o.backoff !== undefined) {
    if (!['fixed', 'exponential'].includes(o.backoff.type)) at(`backoff.type must be fixed or exponential`, s.id, 'backoff.type');
    if (!(Number.isFinite(o.backoff.delayMs) && o.backoff.delayMs >= 0)) at(`backoff.delayMs must be ≥ 0`, s.id, 'backoff.delayMs');
  }
}

const SEVERITIES = ['critical', 'error', 'warning', 'info'];

function validateAlerts(a: NonNullable<PipelineDefinition['alerts']>, at: At): void {
  if (a.slackChannel !== undefined && !(typeof a.slackChannel === 'string' && a.slackChannel.trim() !== '')) {
    at('slackChannel must be a non-empty string', undefined, 'alerts.slackChannel');
  }
  if (a.severity !== undefined && !SEVERITIES.includes(a.severity)) {
    at(`severity must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(a.severity)}`, undefined, 'alerts.severity');
  }
  if (a.deadline !== undefined && !/^([01]\d|2[0-3]):[0-5]\d$/.test(a.deadline)) {
    at(`deadline must be a time HH:MM (00:00 to 23:59), got ${JSON.stringify(a.deadline)}`, undefined, 'alerts.deadline');
  }
  if (a.tz !== undefined && !isValidTimeZone(a.tz)) {
    at(`unknown time zone ${JSON.stringify(a.tz)} (use an IANA name such as Europe/Berlin)`, undefined, 'alerts.tz');
  }
  if (a.expectedIntervalMs !== undefined && !(Number.isFinite(a.expectedIntervalMs) && a.expectedIntervalMs > 0)) {
    at(`expectedIntervalMs must be > 0, got ${a.expectedIntervalMs}`, undefined, 'alerts.expectedIntervalMs');
  }
}

function validateInput(p: PipelineDefinition, s: StepDefinition, catalog: StepTypeCatalog, at: At): void {
  const name = stepTypeName(s.type);
  const type = catalog.get(name);
  if (!type) {
    at(`unknown step type "${name}" (known: ${[...catalog.keys()].sort().join(', ')})`, s.id, 'type');
    return;
  }
  if (name === 'task' && typeof s.run !== 'function') at('a task step needs a run function', s.id, 'run');
  let input = s.input;
  if (typeof input === 'function') {
    const defaults = Object.fromEntries(
      Object.entries(p.params ?? {}).flatMap(([k, v]) => (v.default !== undefined ? [[k, v.default]] : [])),
    ) as Record<string, ParamValue>;
    const t = new Date(0).toISOString();
    const run: RunInfo = { runId: `${p.id}.validate`, pipeline: p.id, params: defaults, logicalTime: t, dataInterval: { start: t, end: t } };
    try {
      input = (input as (r: RunInfo) => unknown)(run);
    } catch (err) {
      at(`input function threw: ${(err as Error).message}`, s.id, 'input');
      return;
    }
  }
  for (const issue of inputIssues(type, input)) at(issue.message, s.id, issue.path);
}

/** Schema problems of a step's input, as `{ path: 'input.x', message }`. */
export function inputIssues(type: StepType, input: unknown): { path: string; message: string }[] {
  const res = (type.input as z.ZodType).safeParse(input);
  if (res.success) return [];
  return res.error.issues.map((i) => ({
    path: ['input', ...i.path.map(String)].join('.'),
    message: i.message,
  }));
}

/** Every elementary cycle reached by DFS, each as a path that ends where it starts. */
export function findCycles(steps: readonly StepDefinition[]): string[][] {
  const deps = new Map(steps.map((s) => [s.id, s.dependsOn]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (id: string): void => {
    state.set(id, 'open');
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      if (!deps.has(d) || d === id) continue;
      const st = state.get(d);
      if (st === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (st === undefined) visit(d);
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const s of steps) if (!state.has(s.id)) visit(s.id);
  return cycles;
}
