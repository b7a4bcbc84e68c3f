/**
 * A worker process's BullMQ workers: one per step queue of its pool (and the
 * step types it was given), plus the internal gates and runs queues. Handles
 * graceful shutdown: stop taking jobs, let active steps finish within the
 * grace period, then hand them back to the queue for another worker.
 */
import { Worker, type Job, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { Admission } from '../common/admission.js';
import type { AdmitJobData, GateJobData, RunJobData, StepJobData } from '../common/jobs.js';
import { ADMISSION_QUEUE, GATES_QUEUE, RUNS_QUEUE, cancelChannel, stepQueue, type Pool } from '../common/names.js';
import { ownedConnection } from '../common/redis.js';
import { admitProcessor } from './admission.js';
import { CancelledError, LockLostError, ShutdownError } from './errors.js';
import { Promoter, gateProcessor } from './gates.js';
import type { StepRegistry } from './registry.js';
import { stepProcessor, type ActiveStep } from './step-processor.js';

export interface WorkerPoolOptions {
  redisUrl: string;
  /** Shared connection for non-blocking commands. */
  connection: Redis;
  prefix: string;
  registry: StepRegistry;
  /** @defaultValue 'cpu' */
  pool?: Pool;
  /** Step types to take. @defaultValue every registered type */
  steps?: readonly string[];
  /** Concurrent jobs per step queue. @defaultValue 4 */
  concurrency?: number;
  /** Exit after this many step jobs (for Kubernetes Jobs). @defaultValue unlimited */
  maxJobs?: number;
  /** Also consume the internal gates and runs queues. @defaultValue true */
  internal?: boolean;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Called with every step job that finishes (completed or finally failed). */
  onStepFinished?: (job: Job<StepJobData>, outcome: 'completed' | 'failed') => void;
}

export interface WorkerPool {
  readonly queues: readonly string[];
  /** Resolves once every BullMQ worker is connected. */
  ready(): Promise<void>;
  /** Resolves when --max-jobs is reached (the pool then closes itself). */
  readonly exhausted: Promise<void>;
  /** Stops taking jobs; after `graceMs`, hands active steps back; resolves when all is closed. */
  close(graceMs: number): Promise<void>;
}

export function startWorkerPool(opts: WorkerPoolOptions): WorkerPool {
  const pool = opts.pool ?? 'cpu';
  const types = (opts.steps ?? opts.registry.names()).filter((t) => opts.registry.get(t));
  const unknown = (opts.steps ?? []).filter((t) => !opts.registry.get(t));
  if (unknown.length) throw new Error(`unknown step types: ${unknown.join(', ')} (known: ${opts.registry.names().join(', ')})`);
  const base: WorkerOptions = {
    connection: ownedConnection(opts.redisUrl),
    prefix: opts.prefix,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    autorun: true,
  };
  const active = new Map<string, ActiveStep>();
  let started = 0;
  let signalExhausted = (): void => undefined;
  const exhausted = new Promise<void>((resolve) => (signalExhausted = resolve));
  const admit =
    opts.maxJobs === undefined
      ? undefined
      : (): boolean => {
          if (started >= opts.maxJobs!) return false;
          if (++started === opts.maxJobs) signalExhausted();
          return true;
        };
  const processStep = stepProcessor({ connection: opts.connection, prefix: opts.prefix, registry: opts.registry, active, ...(admit ? { admit } : {}) });
  const promoter = new Promoter(opts.connection, opts.prefix);
  const workers: Worker[] = [];

  for (const type of types) {
    const w = new Worker<StepJobData>(stepQueue(type, pool), processStep, { ...base, concurrency: opts.concurrency ?? 4 });
    w.on('completed', (job) => {
      void promoter.after(job.data);
      opts.onStepFinished?.(job, 'completed');
    });
    // only a final failure: an attempt that will be retried leaves its dependents waiting
    w.on('failed', (job) => {
      if (!job?.finishedOn) return;
      void promoter.after(job.data);
      opts.onStepFinished?.(job, 'failed');
    });
    w.on('lockRenewalFailed', (ids) => {
      for (const id of ids) active.get(id)?.controller.abort(new LockLostError());
    });
    workers.push(w);
  }
  const admission = new Admission(opts.connection, opts.prefix);
  if (opts.internal ?? true) {
    const runs = new Worker<RunJobData>(RUNS_QUEUE, async (job) => ({ status: 'succeeded', steps: job.data.steps.length }), {
      ...base,
      concurrency: 50,
    });
    // a run that ended frees its slot: the next run of its lane starts
    const release = (job: Job<RunJobData>): void =>
      void admission
        .release(job.data.lane, job.data.runId)
        .then((next) => admission.wake(next))
        .catch((err: Error) => console.error(`[bullpen worker] releasing ${job.data.runId}: ${err.message}`));
    runs.on('completed', release);
    runs.on('failed', (job) => job?.finishedOn && release(job));
    const admit = new Worker<AdmitJobData>(ADMISSION_QUEUE, admitProcessor(opts.connection, opts.prefix, admission), {
      ...base,
      concurrency: 50,
    });
    admit.on('completed', (job) => void promoter.after(job.data));
    admit.on('failed', (job) => job?.finishedOn && void promoter.after(job.data));
    workers.push(new Worker<GateJobData>(GATES_QUEUE, gateProcessor(opts.connection, opts.prefix), { ...base, concurrency: 100 }), runs, admit);
  }
  // cancel, across processes: every worker hears it and aborts that run's steps
  const subscriber = opts.connection.duplicate();
  subscriber.on('error', () => undefined);
  const subscribed = subscriber.subscribe(cancelChannel(opts.prefix));
  subscriber.on('message', (_channel: string, runId: string) => {
    for (const a of active.values()) if (a.job.data.runId === runId) a.controller.abort(new CancelledError());
  });
  for (const w of workers) w.on('error', (err) => console.error(`[bullpen worker] ${w.name}: ${err.message}`));

  let closing: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> =>
    (closing ??= (async () => {
      const closed = Promise.all(workers.map((w) => w.close()));
      const grace = setTimeout(() => {
        for (const a of active.values()) a.controller.abort(new ShutdownError());
      }, graceMs);
      const hard = setTimeout(() => void Promise.all(workers.map((w) => w.close(true))), graceMs + 10_000);
      try {
        await closed;
      } finally {
        clearTimeout(grace);
        clearTimeout(hard);
        subscriber.disconnect();
        await Promise.all([promoter.close(), admission.close()]);
      }
    })());
  if (opts.maxJobs !== undefined) void exhausted.then(() => close(2_000_000_000)); // finish the admitted jobs, however long

  return {
    queues: workers.map((w) => w.name),
    ready: async () => {
      await Promise.all([...workers.map((w) => w.waitUntilReady()), subscribed]);
    },
    exhausted,
    close,
  };
}
