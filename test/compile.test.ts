/**
 * Compiling a run (pure): the DAG → tree encoding (owners, awaiting
 * dependents, gates), pool routing, input resolution, and the BullMQ flow
 * tree built from the plan.
 */
import type { FlowJob, FlowJobNode } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { GateJobData, RunJobData, StepJobData } from '../common/jobs.js';
import type { RunRequestInfo } from '../flows/compile.js';
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
import { AWAIT_FIRST_CHECK_MS, GATE_FIRST_CHECK_MS, KEEP_LOGS, flowTree } from '../producer/flow-tree.js';

const RUN: RunRequestInfo = { runId: 'd.k1', pipeline: 'd', params: { who: 'ada', n: 3 }, logicalTime: '2026-11-30T06:00:00.000Z' };
/** Data interval of a run without one given: the logical time at both ends. */
const POINT = { start: RUN.logicalTime, end: RUN.logicalTime };

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

/**
 * A diamond whose second dependent of `top` also has a dependency of its own
 * (`extra`): it owns `extra` and reaches `top` through a gate child.
 */
const gated = definePipeline({
  id: 'g',
  steps: [
    task('top', { run: () => 't' }),
    task('extra', { run: () => 'x' }),
    task('left', { dependsOn: ['top'], run: () => 'l' }),
    task('right', { dependsOn: ['top', 'extra'], run: () => 'r' }),
    task('bottom', { dependsOn: ['left', 'right'], run: () => 'b' }),
  ],
});

function compile(p: PipelineDefinition, run: RunRequestInfo = { ...RUN, pipeline: p.id, runId: `${p.id}.k1` }): RunPlan {
  return compileRun(p, run, catalogOf([p]));
}

function byId(plan: RunPlan, id: string): PlanStep {
  const s = plan.steps.find((x) => x.stepId === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
}

const childIds = (n: PlanStep): string[] => n.children.map((c) => c.jobId);
const ref = (n: PlanStep) => ({ stepId: n.stepId, jobId: n.jobId, type: n.type, pool: n.pool });

/** Step ids of the step nodes reachable from the sinks, each time one is met. */
function treeSteps(plan: RunPlan): string[] {
  const seen: string[] = [];
  const walk = (n: PlanNode): void => {
    if (n.kind !== 'step') return;
    seen.push(n.stepId);
    n.children.forEach(walk);
  };
  plan.sinks.forEach(walk);
  return seen.sort();
}

describe('compileRun', () => {
  it('diamond: the sink hangs under the run; the first dependent owns the shared step, the other awaits it', () => {
    const plan = compile(diamond);
    expect(plan).toMatchObject({ runId: 'd.k1', base: 'd.k1', pipeline: 'd', params: RUN.params, logicalTime: RUN.logicalTime, dataInterval: POINT });
    expect(plan.admit).toBeUndefined();
    expect(plan.reused.size).toBe(0);
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
    expect(left.awaits).toEqual([]);

    // right owns none of its dependencies: no children, it awaits top and reads top's own job
    expect(right.children).toEqual([]);
    expect(right.awaits).toEqual([ref(top)]);
    expect(right.depJobs).toEqual({ 'd.k1.top': 'top' });
    expect(top.wakes).toEqual([ref(right)]);
    for (const s of [top, left, right, bottom]) expect(s.gates).toEqual([]);
    expect(top.children).toEqual([]);
    expect(top.depJobs).toEqual({});
  });

  it('a dependent that owns one dependency and shares another gets a gate child for the shared one', () => {
    const plan = compile(gated);
    const [top, extra, left, right] = ['top', 'extra', 'left', 'right'].map((id) => byId(plan, id)) as [PlanStep, PlanStep, PlanStep, PlanStep];
    const gateId = gateJobId('g.k1', 'top', 'right');
    expect(gateId).toBe('g.k1.top>right');
    const gate: PlanGate = { kind: 'gate', jobId: gateId, target: { stepId: 'top', jobId: 'g.k1.top', type: 'task', pool: 'cpu' } };
    expect(right.children).toEqual([gate, extra]);
    expect(right.depJobs).toEqual({ [gateId]: 'top', 'g.k1.extra': 'extra' });
    expect(right.awaits).toEqual([]);
    // the shared step knows the gates to promote when it finishes
    expect(top.gates).toEqual([gateId]);
    expect(top.wakes).toEqual([]);
    expect(childIds(left)).toEqual(['g.k1.top']);
    expect(plan.sinks.map((s) => s.stepId)).toEqual(['bottom']);
  });

  it('every step appears exactly once as a step node in the tree', () => {
    expect(treeSteps(compile(diamond))).toEqual(['bottom', 'left', 'right', 'top']);
    expect(treeSteps(compile(gated))).toEqual(['bottom', 'extra', 'left', 'right', 'top']);
  });

  it('a step shared by three dependents gets one owner; the others await it or gate it', () => {
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
    expect(childIds(byId(plan, 'b'))).toEqual([]);
    expect(byId(plan, 'b').awaits.map((a) => a.jobId)).toEqual(['fan.k1.src']);
    expect(childIds(byId(plan, 'c'))).toEqual(['fan.k1.src>c', 'fan.k1.a']);
    expect(byId(plan, 'c').depJobs).toEqual({ 'fan.k1.src>c': 'src', 'fan.k1.a': 'a' });
    expect(byId(plan, 'src').gates).toEqual(['fan.k1.src>c']);
    expect(byId(plan, 'src').wakes.map((w) => w.jobId)).toEqual(['fan.k1.b']);
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
    expect(byId(plan, 'right').awaits[0]?.pool).toBe('gpu');
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

  it('input functions see the data interval when one is given', () => {
    const p = definePipeline({
      id: 'win',
      steps: [step('q', shell, ({ dataInterval }) => ({ argv: ['query', dataInterval.start, dataInterval.end] }))],
    });
    const interval = { start: '2026-11-23T06:00:00.000Z', end: '2026-11-30T06:00:00.000Z' };
    const plan = compile(p, { runId: 'win.k', pipeline: 'win', params: {}, logicalTime: interval.end, dataInterval: interval });
    expect(plan.dataInterval).toEqual(interval);
    expect(plan.steps[0]!.input).toEqual({ argv: ['query', interval.start, interval.end] });
  });

  it('a job id base other than the run id (a retry attempt) names every job', () => {
    const plan = compileRun(gated, { ...RUN, runId: 'g.k1', pipeline: 'g' }, catalogOf([gated]), { base: 'g.k1~2' });
    expect(plan.runId).toBe('g.k1');
    expect(plan.steps.map((s) => s.jobId)).toEqual(['g.k1~2.top', 'g.k1~2.extra', 'g.k1~2.left', 'g.k1~2.right', 'g.k1~2.bottom']);
    expect(byId(plan, 'top').gates).toEqual(['g.k1~2.top>right']);
    expect(byId(plan, 'right').depJobs).toEqual({ 'g.k1~2.top>right': 'top', 'g.k1~2.extra': 'extra' });
    expect(flowTree(plan, { trigger: 'retry', createdAt: 1, lane: 'g', attempt: 2 }).opts?.jobId).toBe('g.k1~2');
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
  const kids = (n: FlowJob | FlowJobNode): FlowJobNode[] => n.children ?? [];

  describe('diamond', () => {
    const tree: FlowJob = flowTree(compile(diamond), { trigger: 'schedule', createdAt: 1_700_000_000_000, lane: 'd', attempt: 1 });
    const [bottom] = kids(tree) as [FlowJobNode];
    const [left, right] = kids(bottom) as [FlowJobNode, FlowJobNode];
    const [top] = kids(left) as [FlowJobNode];

    it('the run root: queue runs, job id = run id, the steps summary as data', () => {
      expect(tree.name).toBe('d');
      expect(tree.queueName).toBe('runs');
      expect(tree.opts).toEqual({ jobId: 'd.k1', attempts: 3, backoff: { type: 'exponential', delay: 500 } });
      expect(tree.data as RunJobData).toEqual({
        runId: 'd.k1',
        pipeline: 'd',
        params: RUN.params,
        logicalTime: RUN.logicalTime,
        dataInterval: POINT,
        trigger: 'schedule',
        createdAt: 1_700_000_000_000,
        lane: 'd',
        attempt: 1,
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
      expect(top.children).toBeUndefined();
    });

    it('an awaiting step is added delayed, childless, with what it awaits; the awaited step knows whom to wake', () => {
      expect(right.opts).toEqual({
        jobId: 'd.k1.right',
        attempts: 1,
        backoff: { type: 'exponential', delay: 1000 },
        priority: 5,
        failParentOnFailure: true,
        keepLogs: KEEP_LOGS,
        delay: AWAIT_FIRST_CHECK_MS,
      });
      expect(right.children).toBeUndefined();
      expect((right.data as StepJobData).awaits).toEqual([{ stepId: 'top', queue: 'step.shell@gpu', jobId: 'd.k1.top' }]);
      expect((right.data as StepJobData).deps).toEqual({ 'd.k1.top': 'top' });
      expect((top.data as StepJobData).wakes).toEqual([{ queue: 'step.task@cpu', jobId: 'd.k1.right' }]);
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
        dataInterval: POINT,
        root: 'd.k1',
        deps: {},
        gates: [],
        wakes: [{ queue: 'step.task@cpu', jobId: 'd.k1.right' }],
        timeoutMs: 60_000,
      });
      expect((bottom.data as StepJobData).deps).toEqual({ 'd.k1.left': 'left', 'd.k1.right': 'right' });
      expect(bottom.data).not.toHaveProperty('timeoutMs');
      expect(bottom.data).not.toHaveProperty('awaits');
    });
  });

  it('gate nodes: queue gates, delayed first check, failParentOnFailure, the shared step target', () => {
    const tree = flowTree(compile(gated), { trigger: 'manual', createdAt: 1, lane: 'g', attempt: 1 });
    const [bottom] = kids(tree) as [FlowJobNode];
    const right = kids(bottom).find((n) => n.name === 'right')!;
    const [gate, extra] = kids(right) as [FlowJobNode, FlowJobNode];
    expect(extra.opts?.jobId).toBe('g.k1.extra');
    expect(gate.name).toBe('gate:top');
    expect(gate.queueName).toBe('gates');
    expect(gate.opts).toEqual({ jobId: 'g.k1.top>right', delay: GATE_FIRST_CHECK_MS, attempts: 3, failParentOnFailure: true });
    expect(gate.data as GateJobData).toEqual({
      runId: 'g.k1',
      stepId: 'right',
      target: { stepId: 'top', queue: 'step.task@cpu', jobId: 'g.k1.top' },
    });
    expect(gate.children).toBeUndefined();
    const left = kids(bottom).find((n) => n.name === 'left')!;
    const [top] = kids(left) as [FlowJobNode];
    expect((top.data as StepJobData).gates).toEqual(['g.k1.top>right']);
  });
});
