/**
 * The metrics every Bullpen process serves: process metrics, queue and run
 * gauges read from Redis at scrape time, the stored counters and histograms
 * (see tally.ts), schedule-derived times, live workers per pool, and the
 * state of this process's circuit breakers.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { ADMISSION_QUEUE, GATES_QUEUE, POOLS, RUNS_QUEUE, TICKS_QUEUE, jobKey, parseStepQueue } from '../common/names.js';
import { nextTicks, pipelineOfRun, type PipelineDefinition } from '../flows/index.js';
import { keys } from './keys.js';
import { LAST_SUCCESS, RUN_DURATION, RUNS_TOTAL, STEP_ATTEMPTS, STEP_DURATION } from './metric-defs.js';
import { ReadOnScrape, storedCounter, storedHistogram } from './stored-metrics.js';
import { stepOfJob } from './tally.js';

export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;
const UNFINISHED = ['waiting-children', 'waiting', 'active', 'delayed', 'prioritized'] as const;

/** Circuit breaker state as a number: 0 closed, 1 half-open, 2 open (as the backends' breakers report it). */
export type BreakerStates = () => Record<string, 'closed' | 'halfOpen' | 'open'>;
const BREAKER_VALUE = { closed: 0, halfOpen: 1, open: 2 } as const;

export interface MetricsOptions {
  /** Shared connection for reads. */
  connection: Redis;
  prefix: string;
  pipelines: readonly PipelineDefinition[];
  /** Step queues to report (`step.<type>@<pool>`), e.g. every registered type in both pools. */
  stepQueues: readonly string[];
  /** Circuit breakers of this process (alert senders), if any. */
  breakers?: BreakerStates;
  /** Node.js process metrics (CPU, memory, event loop). @defaultValue true */
  processMetrics?: boolean;
  now?: () => number;
}

export interface BullpenMetrics {
  registry: Registry;
  close(): Promise<void>;
}

/** Expected gap between successes: the pipeline's setting, else twice its schedule's period. */
export function expectedIntervalMs(p: PipelineDefinition, now: Date): number | undefined {
  if (p.alerts?.expectedIntervalMs !== undefined) return p.alerts.expectedIntervalMs;
  if (!p.schedule) return undefined;
  const [a, b] = nextTicks(p.schedule, now, 2);
  return 2 * (b!.getTime() - a!.getTime());
}

export function createMetrics(o: MetricsOptions): BullpenMetrics {
  const { connection: redis, prefix } = o;
  const now = o.now ?? Date.now;
  const registry = new Registry();
  if (o.processMetrics ?? true) {
    // prom-client's default set has gauges named *_total (nodejs_active_handles_total, …), which promtool
    // rejects; the same numbers are also reported by type (nodejs_active_handles{type}), so leave those out.
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    for (const m of defaults.getMetricsAsArray() as unknown as Metric[]) {
      const { name, type } = m as unknown as { name: string; type: string };
      if (!(name.endsWith('_total') && type !== 'counter')) registry.registerMetric(m);
    }
  }
  const queueNames = [RUNS_QUEUE, GATES_QUEUE, ADMISSION_QUEUE, TICKS_QUEUE, ...o.stepQueues];
  const queues = new Map(queueNames.map((n) => [n, new Queue(n, { connection: redis, prefix })]));
  const q = (n: string): Queue => queues.get(n)!;
  const ids = o.pipelines.map((p) => p.id);
  const registers = [registry];

  new Gauge({
    name: 'bullpen_queue_jobs',
    help: 'Jobs per queue and state, read from Redis at scrape time.',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      const counts = await Promise.all(queueNames.map((n) => q(n).getJobCounts(...JOB_STATES)));
      this.reset();
      queueNames.forEach((queue, i) => {
        for (const state of JOB_STATES) this.set({ queue, state }, counts[i]![state] ?? 0);
      });
    },
  });

  new Gauge({
    name: 'bullpen_runs_active',
    help: 'Runs created and not finished, per pipeline.',
    labelNames: ['pipeline'],
    registers,
    async collect() {
      const runIds = await q(RUNS_QUEUE).getRanges([...UNFINISHED], 0, -1);
      const counts = new Map<string, number>(ids.map((id) => [id, 0]));
      for (const runId of new Set(runIds)) counts.set(pipelineOfRun(runId), (counts.get(pipelineOfRun(runId)) ?? 0) + 1);
      this.reset();
      for (const [pipeline, n] of counts) this.set({ pipeline }, n);
    },
  });

  new Gauge({
    name: 'bullpen_step_running_seconds',
    help: 'Age of the longest-running active attempt of each step (pipeline, step), read at scrape time.',
    labelNames: ['pipeline', 'step'],
    registers,
    async collect() {
      const t = now();
      const oldest = new Map<string, { pipeline: string; step: string; since: number }>();
      for (const queue of o.stepQueues) {
        const active = await q(queue).getRanges(['active'], 0, -1);
        const started = await Promise.all(active.map((id) => redis.hget(jobKey(prefix, queue, id), 'processedOn')));
        active.forEach((id, i) => {
          const s = stepOfJob(id);
          const since = Number(started[i]);
          if (!s || !since) return;
          const k = `${s.pipeline}|${s.step}`;
          if (!oldest.has(k) || oldest.get(k)!.since > since) oldest.set(k, { ...s, since });
        });
      }
      this.reset();
      for (const s of oldest.values()) this.set({ pipeline: s.pipeline, step: s.step }, Math.max(0, (t - s.since) / 1000));
    },
  });

  new Gauge({
    name: 'bullpen_workers',
    help: 'Live workers per pool: the most BullMQ workers listening on any one step queue of the pool.',
    labelNames: ['pool'],
    registers,
    async collect() {
      const counts = await Promise.all(o.stepQueues.map(async (n) => [parseStepQueue(n)?.pool, await q(n).getWorkersCount()] as const));
      this.reset();
      for (const pool of POOLS) this.set({ pool }, Math.max(0, ...counts.filter(([p]) => p === pool).map(([, c]) => c)));
    },
  });

  new Gauge({
    name: LAST_SUCCESS,
    help: 'Unix time of the end of the last successful run of each pipeline.',
    labelNames: ['pipeline'],
    registers,
    async collect() {
      const all = await redis.hgetall(keys.maxima(prefix));
      this.reset();
      for (const [f, v] of Object.entries(all)) if (f.startsWith(`${LAST_SUCCESS}|`)) this.set({ pipeline: f.slice(LAST_SUCCESS.length + 1) }, Number(v));
    },
  });

  new Gauge({
    name: 'bullpen_pipeline_next_run_timestamp_seconds',
    help: "Unix time of a scheduled pipeline's next tick, from its definition.",
    labelNames: ['pipeline'],
    registers,
    collect() {
      this.reset();
      for (const p of o.pipelines) if (p.schedule) this.set({ pipeline: p.id }, nextTicks(p.schedule, new Date(now()))[0]!.getTime() / 1000);
    },
  });

  new Gauge({
    name: 'bullpen_pipeline_expected_interval_seconds',
    help: 'Longest expected gap between successful runs (alerts.expectedIntervalMs, else twice the schedule period).',
    labelNames: ['pipeline'],
    registers,
    collect() {
      this.reset();
      for (const p of o.pipelines) {
        const ms = expectedIntervalMs(p, new Date(now()));
        if (ms !== undefined) this.set({ pipeline: p.id }, ms / 1000);
      }
    },
  });

  if (o.breakers) {
    const states = o.breakers;
    new Gauge({
      name: 'bullpen_circuit_state',
      help: "State of this process's circuit breakers (backends, alert sinks): 0 closed, 1 half-open, 2 open.",
      labelNames: ['breaker'],
      registers,
      collect() {
        this.reset();
        for (const [breaker, state] of Object.entries(states())) this.set({ breaker }, BREAKER_VALUE[state]);
      },
    });
  }

  const zeros = (statuses: readonly string[]) => () => ids.flatMap((id) => statuses.map((s) => [id, s]));
  const stepZeros = () =>
    o.pipelines.flatMap((p) => p.steps.flatMap((s) => ['succeeded', 'failed', 'retried'].map((outcome) => [p.id, s.id, outcome])));
  const stored: ReadOnScrape[] = [
    storedCounter(redis, keys.counters(prefix), RUNS_TOTAL, zeros(['succeeded', 'failed', 'cancelled'])),
    storedCounter(redis, keys.counters(prefix), STEP_ATTEMPTS, stepZeros),
    storedHistogram(redis, keys.histograms(prefix), RUN_DURATION),
    storedHistogram(redis, keys.histograms(prefix), STEP_DURATION),
  ];
  for (const m of stored) m.register(registry);

  return {
    registry,
    close: async () => {
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    },
  };
}
