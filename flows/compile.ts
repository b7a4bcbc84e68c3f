/**
 * Compiles one run of a pipeline into a tree that BullMQ can hold as a flow.
 *
 * BullMQ flows are trees (a job has one parent); pipelines are DAGs. The run
 * root's children are the sinks (steps nothing depends on); a step's children
 * are its dependencies. A step with several dependents is owned (as a tree
 * child) by the first of them; every other dependent gets a small *gate* child
 * that completes with the shared step's output once that step completes. So
 * a step starts exactly when its own dependencies are done, and reads their
 * outputs with `getChildrenValues()`. Pure: no I/O.
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
}

export interface PlanGate {
  kind: 'gate';
  jobId: string;
  /** The shared step this gate waits for. */
  target: { stepId: string; jobId: string; type: string; pool: Pool };
}

export type PlanNode = PlanStep | PlanGate;

export interface RunPlan extends RunInfo {
  /** Roots of the tree under the run job. */
  sinks: PlanStep[];
  /** Every step, in definition order. */
  steps: PlanStep[];
}

export function poolOf(options: StepOptions, typePool: Pool): Pool {
  return (options.resources?.gpu ?? 0) > 0 ? 'gpu' : typePool;
}

/** Builds the plan; throws RunRequestError if a step's resolved input fails its schema. */
export function compileRun(pipeline: PipelineDefinition, run: RunInfo, catalog: StepTypeCatalog): RunPlan {
  const dependents = new Map<string, string[]>(pipeline.steps.map((s) => [s.id, []]));
  for (const s of pipeline.steps) for (const d of s.dependsOn) dependents.get(d)?.push(s.id);

  const problems: string[] = [];
  const nodes = new Map<string, PlanStep>();
  for (const s of pipeline.steps) {
    const typeName = stepTypeName(s.type);
    const type = catalog.get(typeName);
    if (!type) throw new RunRequestError(`pipeline ${pipeline.id}, step ${s.id}: unknown step type "${typeName}"`);
    const raw = typeof s.input === 'function' ? (s.input as (r: RunInfo) => unknown)(run) : s.input;
    const issues = inputIssues(type, raw);
    for (const i of issues) problems.push(`step ${s.id}, ${i.path}: ${i.message}`);
    const parsed = issues.length ? raw : type.input.parse(raw);
    nodes.set(s.id, {
      kind: 'step',
      stepId: s.id,
      type: typeName,
      pool: poolOf(s.options, type.pool),
      jobId: stepJobId(run.runId, s.id),
      input: parsed,
      options: s.options,
      depJobs: {},
      children: [],
      gates: [],
    });
  }
  if (problems.length) throw new RunRequestError(`pipeline ${pipeline.id}: ${problems.join('; ')}`);

  for (const s of pipeline.steps) {
    const node = nodes.get(s.id)!;
    for (const dep of s.dependsOn) {
      const target = nodes.get(dep)!;
      const owner = dependents.get(dep)![0];
      if (owner === s.id) {
        node.children.push(target);
        node.depJobs[target.jobId] = dep;
      } else {
        const jobId = gateJobId(run.runId, dep, s.id);
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
  return { ...run, steps, sinks: steps.filter((n) => dependents.get(n.stepId)!.length === 0) };
}
