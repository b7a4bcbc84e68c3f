/**
 * Compiling a run (pure): the DAG → tree encoding with owners and gates, pool
 * routing, input resolution, and the BullMQ flow tree built from the plan.
 */
import type { FlowJob, FlowJobNode } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { GateJobData, RunJobData, StepJobData } from '../common/jobs.js';
import {
  RunRequestError,
  catalogOf,
  compileRun,
  definePipeline,
  gateJobId,
  shell,
  step,
  stepJobId,
  stepOf,
  task,
  type PipelineDefinition,
  type PlanGate,
  type PlanNode,
  type PlanStep,
  type RunInfo,
  type RunPlan,
} from '../flows/index.js';
import { GATE_FIRST_CHECK_MS, KEEP_LOGS, flowTree } from '../producer/flow-tree.js';

const RUN: RunInfo = { runId: 'd.k1', pipeline: 'd', params: { who: 'ada', n: 3 }, logicalTime: '2026-11-30T06:00:00.000Z' };

/** top → (left, right) → bottom; top runs a program on a GPU, the rest are tasks. */
const diamond = definePipeline({
  id: 'd',
  params: { who: { type: 'string', default: 'bullpen' }, n: { type: 'int', default: 1 } },
  steps: [
    step('top', shell, ({ params, logicalTime, runId }) => ({ argv: ['echo', `hi ${String(params.who)}`, logicalTime, runId] }), {
      resources: { gpu: 1 },
      retries: 2,
      backoff: { type: 'fixed', delayMs: 250 },
      timeoutMs: 60_000,
    }),
    task('left', { dependsOn: ['top'], run: () => 'l' }),
    task('right', { dependsOn: ['top'], run: () => 'r', priority: 5 }),
    task('bottom', { dependsOn: ['left', 'right'], run: () => 'b' }),
  ],
});

function compile(p: PipelineDefinition, run: RunInfo = { ...RUN, pipeline: p.id, runId: `${p.id}.k1` }): RunPlan {
  return compileRun(p, run, catalogOf([p]));
}

function byId(plan: RunPlan, id: string): PlanStep {
  const s = plan.steps.find((x) => x.stepId === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
}

const childIds = (n: PlanStep): string[] => n.children.map((c) => c.jobId);

describe('compileRun', () => {
  it('diamond: the sink hangs under the run; the first dependent owns the shared step, the other gets a gate', () => {
    const plan = compile(diamond);
    expect(plan).toMatchObject({ runId: 'd.k1', pipeline: 'd', params: RUN.params, logicalTime: RUN.logicalTime });
    expect(plan.steps.map((s) => s.stepId)).toEqual(['top', 'left', 'right', 'bottom']);
    expect(plan.sinks.map((s) => s.stepId)).toEqual(['bottom']);

    const [top, left, right, bottom] = ['top', 'left', 'right', 'bottom'].map((id) => byId(plan, id)) as [PlanStep, PlanStep, PlanStep, PlanStep];
    expect(plan.steps.map((s) => s.jobId)).toEqual(['d.k1.top', 'd.k1.left', 'd.k1.right', 'd.k1.bottom']);
    expect(top.jobId).toBe(stepJobId('d.k1', 'top'));

    // bottom owns both of its dependencies (it is their only dependent)
    expect(bottom.children).toEqual([left, right]);
    expect(bottom.depJobs).toEqual({ 'd.k1.left': 'left', 'd.k1.right': 'right' });

    // left (first dependent of top) owns top as a tree child
    expect(left.children).toHaveLength(1);
    expect(left.children[0]).toBe(top);
    expect(left.depJobs).toEqual({ 'd.k1.top': 'top' });

    // right gets a gate on top instead
    const gateId = gateJobId('d.k1', 'top', 'right');
    expect(gateId).toBe('d.k1.top>right');
    const gate: PlanGate = { kind: 'gate', jobId: gateId, target: { stepId: 'top', jobId: 'd.k1.top', type: 'shell', pool: 'gpu' } };
    expect(right.children).toEqual([gate]);
    expect(right.depJobs).toEqual({ [gateId]: 'top' });

    // the shared step knows the gates to promote when it finishes
    expect(top.gates).toEqual([gateId]);
    for (const s of [left, right, bottom]) expect(s.gates).toEqual([]);
    expect(top.children).toEqual([]);
    expect(top.depJobs).toEqual({});
  });

  it('every step appears exactly once as a step node in the tree', () => {
    const plan = compile(diamond);
    const seen: string[] = [];
    const walk = (n: PlanNode): void => {
      if (n.kind === 'gate') return;
      seen.push(n.stepId);
      n.children.forEach(walk);
    };
    plan.sinks.forEach(walk);
    expect(seen.sort()).toEqual(['bottom', 'left', 'right', 'top']);
  });

  it('a step shared by three dependents (one a sink too) gets one owner and two gates', () => {
    const p = definePipeline({
      id: 'fan',
      steps: [
        task('src', { run: () => 1 }),
        task('a', { dependsOn: ['src'], run: () => 1 }),
        task('b', { dependsOn: ['src'], run: () => 1 }),
        task('c', { dependsOn: ['src', 'a'], run: () => 1 }),
      ],
    });
    const plan = compile(p);
    expect(plan.sinks.map((s) => s.stepId)).toEqual(['b', 'c']);
    expect(childIds(byId(plan, 'a'))).toEqual(['fan.k1.src']);
    expect(childIds(byId(plan, 'b'))).toEqual(['fan.k1.src>b']);
    expect(childIds(byId(plan, 'c'))).toEqual(['fan.k1.src>c', 'fan.k1.a']);
    expect(byId(plan, 'c').depJobs).toEqual({ 'fan.k1.src>c': 'src', 'fan.k1.a': 'a' });
    expect(byId(plan, 'src').gates).toEqual(['fan.k1.src>b', 'fan.k1.src>c']);
  });

  it('independent steps are all sinks', () => {
    const plan = compile(definePipeline({ id: 'flat', steps: [task('x', { run: () => 1 }), task('y', { run: () => 2 })] }));
    expect(plan.sinks.map((s) => s.stepId)).toEqual(['x', 'y']);
    for (const s of plan.sinks) expect(s.children).toEqual([]);
  });

  it('routes steps asking for GPUs to the gpu pool, the rest to their type pool', () => {
    const plan = compile(diamond);
    expect(plan.steps.map((s) => [s.stepId, s.pool])).toEqual([
      ['top', 'gpu'],
      ['left', 'cpu'],
      ['right', 'cpu'],
      ['bottom', 'cpu'],
    ]);
    const zero = compile(definePipeline({ id: 'z', steps: [step('s', shell, { argv: ['true'] }, { resources: { gpu: 0 } })] }));
    expect(zero.steps[0]!.pool).toBe('cpu');
    const task2 = compile(definePipeline({ id: 't', steps: [task('s', { run: () => 1, resources: { gpu: 2 } })] }));
    expect(task2.steps[0]!.pool).toBe('gpu');
  });

  it('resolves input functions with the run params and logical time; keeps options', () => {
    const plan = compile(diamond);
    expect(byId(plan, 'top').input).toEqual({ argv: ['echo', 'hi ada', '2026-11-30T06:00:00.000Z', 'd.k1'] });
    expect(byId(plan, 'top').type).toBe('shell');
    expect(byId(plan, 'top').options).toEqual({ resources: { gpu: 1 }, retries: 2, backoff: { type: 'fixed', delayMs: 250 }, timeoutMs: 60_000 });
    expect(byId(plan, 'left').input).toEqual({});
    expect(byId(plan, 'left').type).toBe('task');
    const other = compile(diamond, { ...RUN, params: { who: 'grace', n: 1 }, logicalTime: '2020-01-01T00:00:00.000Z' });
    expect(byId(other, 'top').input).toEqual({ argv: ['echo', 'hi grace', '2020-01-01T00:00:00.000Z', 'd.k1'] });
  });

  it('a resolved input failing the schema throws RunRequestError naming the step and path', () => {
    const p = definePipeline({
      id: 'ps',
      params: { n: { type: 'int', default: 1 } },
      steps: [
        task('ok', { run: () => 1 }),
        step('list', shell, ({ params }) => ({ argv: Array.from({ length: Number(params.n) }, () => 'ls') })),
        stepOf('env', 'shell', ({ params }: RunInfo) => ({ argv: ['env'], env: { N: params.n } })),
      ],
    });
    expect(() => compile(p, { runId: 'ps.k', pipeline: 'ps', params: { n: 1 }, logicalTime: RUN.logicalTime })).toThrow(RunRequestError);
    let err: unknown;
    try {
      compile(p, { runId: 'ps.k', pipeline: 'ps', params: { n: 0 }, logicalTime: RUN.logicalTime });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RunRequestError);
    expect((err as Error).message).toBe(
      'pipeline ps: step list, input.argv: needs at least the program to run; ' +
        'step env, input.env.N: Invalid input: expected string, received number',
    );
  });

  it('an unknown step type at compile time is a RunRequestError', () => {
    const p = definePipeline({ id: 'u', steps: [stepOf('x', 'pytorch', {})] });
    expect(() => compile(p)).toThrow(new RunRequestError('pipeline u, step x: unknown step type "pytorch"'));
  });

  it('inputs are parsed by the schema (a static input that passes is kept as is)', () => {
    const plan = compile(definePipeline({ id: 's', steps: [step('a', shell, { argv: ['true'], env: { A: '1' }, inheritEnv: false })] }));
    expect(plan.steps[0]!.input).toEqual({ argv: ['true'], env: { A: '1' }, inheritEnv: false });
  });
});

describe('flowTree', () => {
  const plan = compile(diamond);
  const tree: FlowJob = flowTree(plan, 'schedule', 1_700_000_000_000);
  const kids = (n: FlowJob | FlowJobNode): FlowJobNode[] => n.children ?? [];
  const [bottom] = kids(tree) as [FlowJobNode];
  const [left, right] = kids(bottom) as [FlowJobNode, FlowJobNode];
  const [top] = kids(left) as [FlowJobNode];
  const [gate] = kids(right) as [FlowJobNode];

  it('the run root: queue runs, job id = run id, the steps summary as data', () => {
    expect(tree.name).toBe('d');
    expect(tree.queueName).toBe('runs');
    expect(tree.opts).toEqual({ jobId: 'd.k1', attempts: 3, backoff: { type: 'exponential', delay: 500 } });
    const data = tree.data as RunJobData;
    expect(data).toEqual({
      runId: 'd.k1',
      pipeline: 'd',
      params: RUN.params,
      logicalTime: RUN.logicalTime,
      trigger: 'schedule',
      createdAt: 1_700_000_000_000,
      steps: [
        { id: 'top', jobId: 'd.k1.top', queue: 'step.shell@gpu', dependsOn: [] },
        { id: 'left', jobId: 'd.k1.left', queue: 'step.task@cpu', dependsOn: ['top'] },
        { id: 'right', jobId: 'd.k1.right', queue: 'step.task@cpu', dependsOn: ['top'] },
        { id: 'bottom', jobId: 'd.k1.bottom', queue: 'step.task@cpu', dependsOn: ['left', 'right'] },
      ],
    });
    expect(kids(tree)).toHaveLength(1);
  });

  it('step nodes: queue step.<type>@<pool>, attempts = retries + 1, failParentOnFailure', () => {
    expect([bottom, left, right, top].map((n) => [n.name, n.queueName, n.opts?.jobId])).toEqual([
      ['bottom', 'step.task@cpu', 'd.k1.bottom'],
      ['left', 'step.task@cpu', 'd.k1.left'],
      ['right', 'step.task@cpu', 'd.k1.right'],
      ['top', 'step.shell@gpu', 'd.k1.top'],
    ]);
    expect(top.opts).toEqual({
      jobId: 'd.k1.top',
      attempts: 3,
      backoff: { type: 'fixed', delay: 250 },
      failParentOnFailure: true,
      keepLogs: KEEP_LOGS,
    });
    expect(left.opts).toEqual({
      jobId: 'd.k1.left',
      attempts: 1,
      backoff: { type: 'exponential', delay: 1000 },
      failParentOnFailure: true,
      keepLogs: KEEP_LOGS,
    });
    expect(right.opts?.priority).toBe(5);
    expect(right.opts?.attempts).toBe(1);
    expect(right.opts?.failParentOnFailure).toBe(true);
    expect(kids(top)).toEqual([]);
    expect(top.children).toBeUndefined();
  });

  it('step data carries the resolved input, params, deps, gates and timeout', () => {
    expect(top.data as StepJobData).toEqual({
      runId: 'd.k1',
      pipeline: 'd',
      stepId: 'top',
      type: 'shell',
      input: { argv: ['echo', 'hi ada', '2026-11-30T06:00:00.000Z', 'd.k1'] },
      params: RUN.params,
      logicalTime: RUN.logicalTime,
      deps: {},
      gates: ['d.k1.top>right'],
      timeoutMs: 60_000,
    });
    expect((right.data as StepJobData).deps).toEqual({ 'd.k1.top>right': 'top' });
    expect((bottom.data as StepJobData).deps).toEqual({ 'd.k1.left': 'left', 'd.k1.right': 'right' });
    expect(bottom.data).not.toHaveProperty('timeoutMs');
  });

  it('gate nodes: queue gates, delayed first check, failParentOnFailure, target queue of the shared step', () => {
    expect(gate.name).toBe('gate:top');
    expect(gate.queueName).toBe('gates');
    expect(gate.opts).toEqual({ jobId: 'd.k1.top>right', delay: GATE_FIRST_CHECK_MS, attempts: 3, failParentOnFailure: true });
    expect(gate.data as GateJobData).toEqual({
      runId: 'd.k1',
      stepId: 'right',
      target: { stepId: 'top', queue: 'step.shell@gpu', jobId: 'd.k1.top' },
    });
    expect(gate.children).toBeUndefined();
  });
});
