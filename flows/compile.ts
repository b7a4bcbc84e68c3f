/**
 * Compiles one run of a pipeline into a tree that BullMQ can hold as a flow.
 *
 * BullMQ flows are trees (a job has one parent); pipelines are DAGs. The run
 * root's children are the sinks (steps nothing depends on); a step's children
 * are its dependencies. A step with several dependents is owned (as a tree
 * child) by the first of them. Another dependent that owns none of its
 * dependencies *awaits* them: it is added delayed, the workers of its
 * dependencies promote it when they finish, and it reads their outputs from
 * their jobs (its delayed re-check heals a lost promote). A dependent that
 * owns some dependencies and shares others gets a small *gate* child per
 * shared one, which completes with that step's output. So a step starts
 * exactly when its own dependencies are done, and reads their outputs.
 *
 * A run that must wait for a slot (maxActiveRuns) gets an *admit* job under its
 * first step without dependencies (gates under the others), held delayed until
 * the run is admitted. A retried run reuses the outputs of steps that completed
 * before: its dependents get *const* children carrying those outputs. Pure: no I/O.
 */
import { stepTypeName } from './define.js';
import { RunRequestError } from './errors.js';
import { gateJobId, stepJobId } from './ids.js';
import { inputIssues, type StepTypeCatalog } from './validate.js';
import type { PipelineDefinition, Pool, RunInfo, StepOptions } from './types.js';

export interface PlanStep {
  kind: 'step';
  stepId: string;
  type: string;
  pool: Pool;
  jobId: string;
  input: unknown;
  options: StepOptions;
  /** Child job id → dependency step id, for every dependency (owned or gated). */
  depJobs: Record<string, string>;
  /** Tree children: owned dependencies and gates. */
  children: PlanNode[];
  /** Gate job ids (in other dependents) to promote when this step finishes. */
  gates: string[];
  /** Shared dependencies this step awaits (it is added delayed, and has no children). */
  awaits: { stepId: string; jobId: string; type: string; pool: Pool }[];
  /** Steps awaiting this one, to promote when it finishes. */
  wakes: { stepId: string; jobId: string; type: string; pool: Pool }[];
}

export interface PlanGate {
  kind: 'gate';
  jobId: string;
  /** The shared step this gate waits for. */
  target: { stepId: string; jobId: string; type: string; pool: Pool };
}

/** A step reused from an earlier attempt: completes at once with its output. */
export interface PlanConst {
  kind: 'const';
  jobId: string;
  stepId: string;
  value: unknown;
}

/** The run's admission ticket, held until the run gets a slot. */
export interface PlanAdmit {
  kind: 'admit';
  jobId: string;
  /** Gate job ids (under other first steps) to promote on admission. */
  gates: string[];
}

/** A gate on the admit job (for first steps other than the one owning it). */
export interface PlanAdmitGate {
  kind: 'admit-gate';
  jobId: string;
  admitJobId: string;
}

export type PlanNode = PlanStep | PlanGate | PlanConst | PlanAdmit | PlanAdmitGate;

export interface RunPlan extends RunInfo {
  /** Job id base: the run id, or `<runId>~<attempt>` for a retry. */
  base: string;
  /** Roots of the tree under the run job. */
  sinks: PlanStep[];
  /** Every step that runs, in definition order. */
  steps: PlanStep[];
  /** Steps reused from an earlier attempt, with their outputs. */
  reused: Map<string, unknown>;
  admit?: PlanAdmit;
}

export type RunRequestInfo = Omit<RunInfo, 'dataInterval'> & { dataInterval?: RunInfo['dataInterval'] };

export interface CompileOptions {
  /** Job id base. @defaultValue the run id */
  base?: string;
  /** Outputs of steps completed in an earlier attempt: not run again. */
  reuse?: ReadonlyMap<string, unknown>;
  /** Hold the run behind an admit job (it is waiting for a slot). */
  admit?: boolean;
}

export function poolOf(options: StepOptions, typePool: Pool): Pool {
  return (options.resources?.gpu ?? 0) > 0 ? 'gpu' : typePool;
}

/** Builds the plan; throws RunRequestError if a step's resolved input fails its schema. */
export function compileRun(
  pipeline: PipelineDefinition,
  request: RunRequestInfo,
  catalog: StepTypeCatalog,
  opts: CompileOptions = {},
): RunPlan {
  const run: RunInfo = { ...request, dataInterval: request.dataInterval ?? { start: request.logicalTime, end: request.logicalTime } };
  const base = opts.base ?? run.runId;
  const reuse = opts.reuse ?? new Map<string, unknown>();
  const live = pipeline.steps.filter((s) => !reuse.has(s.id));
  const dependents = new Map<string, string[]>(live.map((s) => [s.id, []]));
  for (const s of live) for (const d of s.dependsOn) dependents.get(d)?.push(s.id);

  const problems: string[] = [];
  const nodes = new Map<string, PlanStep>();
  for (const s of live) {
    const typeName = stepTypeName(s.type);
    const type = catalog.get(typeName);
    if (!type) throw new RunRequestError(`pipeline ${pipeline.id}, step ${s.id}: unknown step type "${typeName}"`);
    let raw: unknown = s.input;
    if (typeof s.input === 'function') {
      try {
        raw = (s.input as (r: RunInfo) => unknown)(run);
      } catch (err) {
        problems.push(`step ${s.id}, input: the input function threw: ${(err as Error).message}`);
        continue;
      }
    }
    const issues = inputIssues(type, raw);
    for (const i of issues) problems.push(`step ${s.id}, ${i.path}: ${i.message}`);
    const parsed = issues.length ? raw : type.input.parse(raw);
    nodes.set(s.id, {
      kind: 'step',
      stepId: s.id,
      type: typeName,
      pool: poolOf(s.options, type.pool),
      jobId: stepJobId(base, s.id),
      input: parsed,
      options: s.options,
      depJobs: {},
      children: [],
      gates: [],
      awaits: [],
      wakes: [],
    });
  }
  if (problems.length) throw new RunRequestError(`pipeline ${pipeline.id}: ${problems.join('; ')}`);

  const ref = (n: PlanStep) => ({ stepId: n.stepId, jobId: n.jobId, type: n.type, pool: n.pool });
  for (const s of live) {
    const node = nodes.get(s.id)!;
    const awaits = s.dependsOn.length > 0 && s.dependsOn.every((d) => !reuse.has(d) && dependents.get(d)![0] !== s.id);
    if (awaits) {
      for (const dep of s.dependsOn) {
        const target = nodes.get(dep)!;
        node.awaits.push(ref(target));
        node.depJobs[target.jobId] = dep;
        target.wakes.push(ref(node));
      }
      continue;
    }
    for (const dep of s.dependsOn) {
      if (reuse.has(dep)) {
        const jobId = gateJobId(base, dep, s.id);
        node.children.push({ kind: 'const', jobId, stepId: dep, value: reuse.get(dep) });
        node.depJobs[jobId] = dep;
        continue;
      }
      const target = nodes.get(dep)!;
      const owner = dependents.get(dep)![0];
      if (owner === s.id) {
        node.children.push(target);
        node.depJobs[target.jobId] = dep;
      } else {
        const jobId = gateJobId(base, dep, s.id);
        node.children.push({
          kind: 'gate',
          jobId,
          target: { stepId: dep, jobId: target.jobId, type: target.type, pool: target.pool },
        });
        node.depJobs[jobId] = dep;
        target.gates.push(jobId);
      }
    }
  }
  const steps = [...nodes.values()];
  let admit: PlanAdmit | undefined;
  if (opts.admit) {
    admit = { kind: 'admit', jobId: `${base}.admit`, gates: [] };
    steps
      .filter((n) => n.children.length === 0 && n.awaits.length === 0)
      .forEach((first, i) => {
        if (i === 0) return first.children.push(admit!);
        const jobId = `${base}.admit>${first.stepId}`;
        admit!.gates.push(jobId);
        first.children.push({ kind: 'admit-gate', jobId, admitJobId: admit!.jobId });
      });
  }
  const sinks = steps.filter((n) => dependents.get(n.stepId)!.length === 0);
  return { ...run, base, steps, sinks, reused: new Map(reuse), ...(admit ? { admit } : {}) };
}
