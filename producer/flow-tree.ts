/** Turns a compiled run plan into the BullMQ flow tree added by one FlowProducer.add. */
import type { FlowJob, FlowJobNode } from 'bullmq';
import type { GateJobData, RunJobData, StepJobData } from '../common/jobs.js';
import { GATES_QUEUE, RUNS_QUEUE, stepQueue } from '../common/names.js';
import type { PlanNode, PlanStep, RunPlan } from '../flows/index.js';

/** First re-check of a gate whose promote was lost (it normally is promoted within ms). */
export const GATE_FIRST_CHECK_MS = 2_000;
/** Logs kept per step job. */
export const KEEP_LOGS = 1_000;

function node(plan: RunPlan, n: PlanNode, dependent: string): FlowJobNode {
  if (n.kind === 'gate') {
    const data: GateJobData = {
      runId: plan.runId,
      stepId: dependent,
      target: { stepId: n.target.stepId, queue: stepQueue(n.target.type, n.target.pool), jobId: n.target.jobId },
    };
    return {
      name: `gate:${n.target.stepId}`,
      queueName: GATES_QUEUE,
      data,
      opts: { jobId: n.jobId, delay: GATE_FIRST_CHECK_MS, attempts: 3, failParentOnFailure: true },
    };
  }
  return stepNode(plan, n);
}

function stepNode(plan: RunPlan, s: PlanStep): FlowJobNode {
  const data: StepJobData = {
    runId: plan.runId,
    pipeline: plan.pipeline,
    stepId: s.stepId,
    type: s.type,
    input: s.input,
    params: { ...plan.params },
    logicalTime: plan.logicalTime,
    deps: s.depJobs,
    gates: s.gates,
    ...(s.options.timeoutMs !== undefined ? { timeoutMs: s.options.timeoutMs } : {}),
  };
  const backoff = s.options.backoff ?? { type: 'exponential', delayMs: 1000 };
  const children = s.children.map((c) => node(plan, c, s.stepId));
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
    },
    ...(children.length ? { children } : {}),
  };
}

export function flowTree(plan: RunPlan, trigger: string, createdAt: number): FlowJob {
  const data: RunJobData = {
    runId: plan.runId,
    pipeline: plan.pipeline,
    params: { ...plan.params },
    logicalTime: plan.logicalTime,
    trigger,
    createdAt,
    steps: plan.steps.map((s) => ({
      id: s.stepId,
      jobId: s.jobId,
      queue: stepQueue(s.type, s.pool),
      dependsOn: Object.values(s.depJobs),
    })),
  };
  return {
    name: plan.pipeline,
    queueName: RUNS_QUEUE,
    data,
    opts: { jobId: plan.runId, attempts: 3, backoff: { type: 'exponential', delay: 500 } },
    children: plan.sinks.map((s) => stepNode(plan, s)),
  };
}
