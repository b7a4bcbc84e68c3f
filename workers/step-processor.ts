/**
 * The processor of step jobs: checks the run is still live and reads
 * dependency outputs (step-start.ts), validates the input, runs the handler under an AbortSignal (timeout,
 * shutdown, lost lock), and maps failures onto BullMQ's retry semantics.
 */
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CANCELLED_REASON, type StepJobData } from '../common/jobs.js';
import { inputIssues } from '../flows/index.js';
import { CancelledError, LockLostError, ShutdownError, StepError, StepTimeoutError } from './errors.js';
import type { StepContext, StepRegistry } from './registry.js';
import { startStep } from './step-start.js';

export interface ActiveStep {
  job: Job<StepJobData>;
  controller: AbortController;
}

export interface StepProcessorEnv {
  connection: Redis;
  prefix: string;
  registry: StepRegistry;
  /** Steps running in this process, by job id (for shutdown and lost locks). */
  active: Map<string, ActiveStep>;
  /** Called as a step starts; returning false hands the job back (e.g. past --max-jobs). */
  admit?: () => boolean;
}

/** How long an aborted handler gets to finish cleaning up (the subprocess kill grace, plus a margin). */
const ABORT_SETTLE_MS = 7_000;

async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.then(noop, noop), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function noop(): void {}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

export function stepProcessor(env: StepProcessorEnv) {
  return async (job: Job<StepJobData>, token?: string): Promise<unknown> => {
    const data = job.data;
    const registered = env.registry.get(data.type);
    if (!registered) throw new UnrecoverableError(`no handler for step type "${data.type}" in this worker`);
    const deps = await startStep(env.connection, env.prefix, job, token);
    // counted after the start check: a re-check of a step still waiting for its dependencies is not a job run
    if (env.admit && !env.admit()) {
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const issues = inputIssues(registered.type, data.input);
    if (issues.length) {
      throw new UnrecoverableError(`invalid input for step type ${data.type}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    }

    const controller = new AbortController();
    env.active.set(job.id!, { job, controller });
    const timer =
      data.timeoutMs !== undefined
        ? setTimeout(() => controller.abort(new StepTimeoutError(data.timeoutMs!)), data.timeoutMs)
        : undefined;
    let logs: Promise<unknown> = Promise.resolve();
    const ctx: StepContext = {
      input: registered.type.input.parse(data.input),
      deps,
      runId: data.runId,
      pipeline: data.pipeline,
      stepId: data.stepId,
      params: data.params,
      logicalTime: data.logicalTime,
      dataInterval: data.dataInterval,
      attempt: job.attemptsMade + 1,
      signal: controller.signal,
      log: (message) => {
        logs = logs.then(() => job.log(message)).catch(() => undefined);
      },
      progress: (value) => job.updateProgress(value),
    };
    const handled = registered.handler(ctx);
    try {
      const output = await Promise.race([handled, abortPromise(controller.signal)]);
      await logs;
      return output ?? null;
    } catch (err) {
      // aborted: give the handler time to clean up (its subprocesses get SIGTERM, then SIGKILL),
      // so a retry never overlaps the aborted attempt's processes
      if (controller.signal.aborted) await settleWithin(handled, ABORT_SETTLE_MS);
      await logs;
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
      if (reason instanceof ShutdownError) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (reason instanceof CancelledError) throw new UnrecoverableError(CANCELLED_REASON);
      if (reason instanceof LockLostError || reason instanceof StepTimeoutError) throw reason;
      if (reason instanceof StepError && !reason.retryable) throw new UnrecoverableError(reason.message);
      throw reason instanceof Error ? reason : new Error(String(reason));
    } finally {
      clearTimeout(timer);
      env.active.delete(job.id!);
    }
  };
}
