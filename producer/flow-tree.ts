/** Turns a compiled run plan into the BullMQ flow tree added by one FlowProducer.add. */
import type { FlowJob, FlowJobNode } from 'bullmq';
import type { AdmitJobData, GateJobData, RunJobData, StepJobData } from '../common/jobs.js';
import { ADMISSION_QUEUE, GATES_QUEUE, RUNS_QUEUE, stepQueue } from '../common/names.js';
import type { PlanNode, PlanStep, RunPlan } from '../flows/index.js';

/** First re-check of a gate whose promote was lost (it normally is promoted within ms). */
export const GATE_FIRST_CHECK_MS = 2_000;
/** First re-check of a step awaiting shared dependencies (it is normally promoted within ms). */
export const AWAIT_FIRST_CHECK_MS = 2_000;
/** First re-check of an admit job (it is normally promoted when a slot frees). */
export const ADMIT_FIRST_CHECK_MS = 10_000;
/** Logs kept per step job. */
export const KEEP_LOGS = 1_000;

export interface TreeOptions {
  trigger: string;
  createdAt: number;
  lane: string;
  attempt: number;
  /** Where the reused steps' jobs are (from the earlier attempt), for reading the run back. */
  reusedJobs?: ReadonlyMap<string, { jobId: string; queue: string }>;
  /** Step ids in definition order, for listing. */
  order?: readonly string[];
}

function gateOpts(jobId: string, delay: number) {
  return { jobId, delay, attempts: 3, failParentOnFailure: true } as const;
}

function node(plan: RunPlan, n: PlanNode, dependent: string, lane: string): FlowJobNode {
  switch (n.kind) {
    case 'step':
      return stepNode(plan, n, lane);
    case 'gate': {
      const data: GateJobData = {
        runId: plan.runId,
        stepId: dependent,
        target: { stepId: n.target.stepId, queue: stepQueue(n.target.type, n.target.pool), jobId: n.target.jobId },
      };
      return { name: `gate:${n.target.stepId}`, queueName: GATES_QUEUE, data, opts: gateOpts(n.jobId, GATE_FIRST_CHECK_MS) };
    }
    case 'const': {
      const data: GateJobData = { runId: plan.runId, stepId: dependent, value: n.value };
      return { name: `reuse:${n.stepId}`, queueName: GATES_QUEUE, data, opts: gateOpts(n.jobId, 0) };
    }
    case 'admit-gate': {
      const data: GateJobData = { runId: plan.runId, stepId: dependent, target: { stepId: 'admit', queue: ADMISSION_QUEUE, jobId: n.admitJobId } };
      return { name: 'gate:admit', queueName: GATES_QUEUE, data, opts: gateOpts(n.jobId, ADMIT_FIRST_CHECK_MS) };
    }
    case 'admit': {
      const data: AdmitJobData = { runId: plan.runId, lane, gates: n.gates };
      return { name: 'admit', queueName: ADMISSION_QUEUE, data, opts: gateOpts(n.jobId, ADMIT_FIRST_CHECK_MS) };
    }
    default: {
      const never: never = n;
      throw new Error(`unknown plan node ${JSON.stringify(never)}`);
    }
  }
}

function stepNode(plan: RunPlan, s: PlanStep, lane: string): FlowJobNode {
  const data: StepJobData = {
    runId: plan.runId,
    pipeline: plan.pipeline,
    stepId: s.stepId,
    type: s.type,
    input: s.input,
    params: { ...plan.params },
    logicalTime: plan.logicalTime,
    dataInterval: plan.dataInterval,
    root: plan.base,
    deps: s.depJobs,
    gates: s.gates,
    ...(s.awaits.length ? { awaits: s.awaits.map((a) => ({ stepId: a.stepId, queue: stepQueue(a.type, a.pool), jobId: a.jobId })) } : {}),
    ...(s.wakes.length ? { wakes: s.wakes.map((w) => ({ queue: stepQueue(w.type, w.pool), jobId: w.jobId })) } : {}),
    ...(s.options.timeoutMs !== undefined ? { timeoutMs: s.options.timeoutMs } : {}),
  };
  const backoff = s.options.backoff ?? { type: 'exponential', delayMs: 1000 };
  const children = s.children.map((c) => node(plan, c, s.stepId, lane));
  return {
    name: s.stepId,
    queueName: stepQueue(s.type, s.pool),
    data,
    opts: {
      jobId: s.jobId,
      attempts: (s.options.retries ?? 0) + 1,
      backoff: { type: backoff.type, delay: backoff.delayMs },
      ...(s.options.priority !== undefined ? { priority: s.options.priority } : {}),
      failParentOnFailure: true,
      keepLogs: KEEP_LOGS,
      ...(s.awaits.length ? { delay: AWAIT_FIRST_CHECK_MS } : {}),
    },
    ...(children.length ? { children } : {}),
  };
}

export function flowTree(plan: RunPlan, opts: TreeOptions): FlowJob {
  const live = new Map(plan.steps.map((s) => [s.stepId, s]));
  const steps: RunJobData['steps'] = [];
  for (const s of plan.steps) {
    steps.push({ id: s.stepId, jobId: s.jobId, queue: stepQueue(s.type, s.pool), dependsOn: Object.values(s.depJobs) });
  }
  for (const [id, where] of opts.reusedJobs ?? []) {
    if (!live.has(id)) steps.push({ id, jobId: where.jobId, queue: where.queue, dependsOn: [] });
  }
  const data: RunJobData = {
    runId: plan.runId,
    pipeline: plan.pipeline,
    params: { ...plan.params },
    logicalTime: plan.logicalTime,
    dataInterval: plan.dataInterval,
    trigger: opts.trigger,
    createdAt: opts.createdAt,
    lane: opts.lane,
    attempt: opts.attempt,
    steps,
  };
  if (opts.order) steps.sort((a, b) => opts.order!.indexOf(a.id) - opts.order!.indexOf(b.id));
  const tree: FlowJob = {
    name: plan.pipeline,
    queueName: RUNS_QUEUE,
    data,
    opts: { jobId: plan.base, attempts: 3, backoff: { type: 'exponential', delay: 500 } },
    children: plan.sinks.map((s) => stepNode(plan, s, opts.lane)),
  };
  return tree;
}
