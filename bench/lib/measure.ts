/**
 * Running the phases (unloaded: one run at a time; loaded: a batch created at
 * once) and turning job timestamps into latencies.
 *
 * All latencies come from BullMQ job hashes: `processedOn` is written when a
 * worker moves the job to active, `finishedOn` when it completes, both from
 * the worker process's clock (the only process here), in whole milliseconds.
 * Release latency of an edge dep → dependent = dependent.processedOn − dep.finishedOn.
 */
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { ownedConnection } from '../../common/redis.js';
import type { Shape } from './shapes.js';
import type { BenchSystem, Edge, EdgeKind, JobRef } from './system.js';
import { Counter, redisCpuMs } from './probes.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for single jobs of one queue to complete, on its event stream (with a slow fallback poll). */
export class Finisher {
  private readonly events: QueueEvents;
  private readonly waiters = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly fallback: NodeJS.Timeout;

  constructor(
    url: string,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queue: string,
  ) {
    this.events = new QueueEvents(queue, { connection: ownedConnection(url), prefix });
    this.events.on('completed', ({ jobId }) => this.settle(jobId));
    this.events.on('failed', ({ jobId, failedReason }) => this.settle(jobId, new Error(`job ${queue}/${jobId} failed: ${failedReason}`)));
    // An event read before the stream was subscribed to would be missed: look at the set now and then.
    this.fallback = setInterval(() => void this.poll(), 500);
  }

  private settle(jobId: string, err?: Error): void {
    const w = this.waiters.get(jobId);
    if (!w) return;
    this.waiters.delete(jobId);
    if (err) w.reject(err);
    else w.resolve();
  }

  private async poll(): Promise<void> {
    for (const jobId of [...this.waiters.keys()]) {
      if ((await this.redis.zscore(`${this.prefix}:${this.queue}:completed`, jobId)) !== null) this.settle(jobId);
    }
  }

  async ready(): Promise<void> {
    await this.events.waitUntilReady();
  }

  /** Register before creating the job's run. */
  wait(jobId: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(jobId);
        reject(new Error(`job ${this.queue}/${jobId} did not complete within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(jobId, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  async close(): Promise<void> {
    clearInterval(this.fallback);
    await this.events.close();
  }
}

interface Times {
  processedOn?: number;
  finishedOn?: number;
}

async function readTimes(redis: Redis, prefix: string, refs: JobRef[]): Promise<Times[]> {
  const out: Times[] = [];
  for (let i = 0; i < refs.length; i += 2000) {
    const pipe = redis.pipeline();
    for (const r of refs.slice(i, i + 2000)) pipe.hmget(`${prefix}:${r.queue}:${r.jobId}`, 'processedOn', 'finishedOn');
    const res = (await pipe.exec()) ?? [];
    for (const [err, v] of res) {
      if (err) throw err;
      const [p, f] = v as (string | null)[];
      out.push({ ...(p ? { processedOn: Number(p) } : {}), ...(f ? { finishedOn: Number(f) } : {}) });
    }
  }
  return out;
}

/** One step's release: dependent.processedOn − finishedOn of its last-finishing dependency, by that edge's kind. */
export interface Release {
  kind: EdgeKind;
  ms: number;
}

/** Where a gate edge's time goes: dep done → gate active → gate done → dependent active. */
export interface GateParts {
  promote: number[];
  gate: number[];
  release: number[];
}

export interface PhaseResult {
  system: BenchSystem['key'];
  shape: string;
  mode: 'unloaded' | 'loaded';
  runs: number;
  steps: number;
  /** Loaded: first create call → last run's final job finished. */
  wallMs: number;
  /** Loaded: first create call → every create call returned. */
  createMs: number;
  /** One sample per dependent step per run. */
  releases: Release[];
  /** processedOn → finishedOn of every step job. */
  service: number[];
  /** Run created → final job finished. */
  makespan: number[];
  gates: GateParts;
  /** CPU used during the phase (ms): this process, and the Redis server. */
  nodeCpuMs: number;
  redisCpuMs: number;
  /** Commands sent to Redis during the phase, by name (with --count). */
  commands?: Map<string, number>;
}

export interface PhaseEnv {
  redis: Redis;
  prefix: string;
  counter?: Counter;
}

async function collect(
  env: PhaseEnv,
  sys: BenchSystem,
  shape: Shape,
  keys: string[],
  startedAt: number[],
): Promise<Pick<PhaseResult, 'releases' | 'service' | 'makespan' | 'gates'> & { lastFinish: number }> {
  const edges = sys.edges(shape);
  const gateEdges = edges.filter((e) => e.kind === 'gate');
  const stepIds = [...new Set(edges.flatMap((e) => [e.dep, e.dependent]))];
  const dependents = [...new Set(edges.map((e) => e.dependent))];
  const refs: JobRef[] = [];
  for (const k of keys) {
    for (const s of stepIds) refs.push(sys.stepJob(shape, k, s));
    refs.push(sys.finalJob(shape, k));
    for (const e of gateEdges) refs.push(sys.gateJob!(shape, k, e));
  }
  const times = await readTimes(env.redis, env.prefix, refs);
  const per = stepIds.length + 1 + gateEdges.length;
  const out = { releases: [] as Release[], service: [] as number[], makespan: [] as number[], gates: { promote: [], gate: [], release: [] } as GateParts, lastFinish: 0 };
  const need = (t: Times | undefined, what: string, field: keyof Times): number => {
    const v = t?.[field];
    if (v === undefined) throw new Error(`${sys.key}/${shape.id}: ${what} has no ${field}`);
    return v;
  };
  keys.forEach((k, r) => {
    const base = r * per;
    const step = new Map(stepIds.map((s, i) => [s, times[base + i]]));
    for (const s of stepIds) {
      const t = step.get(s);
      out.service.push(need(t, `${k}.${s}`, 'finishedOn') - need(t, `${k}.${s}`, 'processedOn'));
    }
    // A step is released when the last of its dependencies is done: measure from that one
    // (per edge, a fan-in would also count the wait for slower siblings).
    for (const dependent of dependents) {
      let last: { e: Edge; at: number } | undefined;
      for (const e of edges) {
        if (e.dependent !== dependent) continue;
        const at = need(step.get(e.dep), `${k}.${e.dep}`, 'finishedOn');
        if (!last || at > last.at) last = { e, at };
      }
      out.releases.push({ kind: last!.e.kind, ms: need(step.get(dependent), `${k}.${dependent}`, 'processedOn') - last!.at });
    }
    const final = need(times[base + stepIds.length], `${k} final job`, 'finishedOn');
    out.makespan.push(final - startedAt[r]!);
    out.lastFinish = Math.max(out.lastFinish, final);
    gateEdges.forEach((e, g) => {
      const gt = times[base + stepIds.length + 1 + g];
      const depDone = need(step.get(e.dep), e.dep, 'finishedOn');
      const gp = need(gt, `${k} gate ${e.dep}>${e.dependent}`, 'processedOn');
      const gf = need(gt, `${k} gate ${e.dep}>${e.dependent}`, 'finishedOn');
      out.gates.promote.push(gp - depDone);
      out.gates.gate.push(gf - gp);
      out.gates.release.push(need(step.get(e.dependent), e.dependent, 'processedOn') - gf);
    });
  });
  return out;
}

/** The resources a phase used, from just before it started. */
interface Usage {
  cpu: NodeJS.CpuUsage;
  rcpu: number;
}

async function startUsage(env: PhaseEnv): Promise<Usage> {
  const cpu = process.cpuUsage();
  const rcpu = await redisCpuMs(env.redis);
  env.counter?.reset();
  return { cpu, rcpu };
}

/** Closes a phase: its CPU, Redis CPU and command counts, with the job-timestamp figures. */
async function phaseResult(
  env: PhaseEnv,
  sys: BenchSystem,
  shape: Shape,
  keys: string[],
  u: Usage,
  phase: { mode: PhaseResult['mode']; startedAt: number[]; wallMs?: number; createMs: number },
): Promise<PhaseResult> {
  const commands = env.counter?.snapshot();
  const cpu = process.cpuUsage(u.cpu);
  const rcpu = (await redisCpuMs(env.redis)) - u.rcpu;
  const c = await collect(env, sys, shape, keys, phase.startedAt);
  return {
    system: sys.key,
    shape: shape.id,
    mode: phase.mode,
    runs: keys.length,
    steps: shape.steps.length,
    wallMs: phase.wallMs ?? c.lastFinish - phase.startedAt[0]!,
    createMs: phase.createMs,
    releases: c.releases,
    service: c.service,
    makespan: c.makespan,
    gates: c.gates,
    nodeCpuMs: (cpu.user + cpu.system) / 1000,
    redisCpuMs: rcpu,
    ...(commands ? { commands } : {}),
  };
}

/** Runs created and awaited one at a time. */
export async function unloaded(env: PhaseEnv, sys: BenchSystem, finisher: Finisher, shape: Shape, keys: string[]): Promise<PhaseResult> {
  const startedAt: number[] = [];
  const u = await startUsage(env);
  const t0 = Date.now();
  for (const k of keys) {
    const done = finisher.wait(sys.finalJob(shape, k).jobId, 30_000);
    done.catch(() => undefined); // awaited below; a failed create must not leave it unhandled
    startedAt.push(Date.now());
    await sys.create(shape, k);
    await done;
  }
  return phaseResult(env, sys, shape, keys, u, { mode: 'unloaded', startedAt, wallMs: Date.now() - t0, createMs: 0 });
}

/** Every run created at once (concurrent create calls), then waited for. */
export async function loaded(env: PhaseEnv, sys: BenchSystem, shape: Shape, keys: string[], finalQueue: string): Promise<PhaseResult> {
  const completed = `${env.prefix}:${finalQueue}:completed`;
  const failed = `${env.prefix}:${finalQueue}:failed`;
  const [base, baseFailed] = await Promise.all([env.redis.zcard(completed), env.redis.zcard(failed)]);
  const target = base + keys.length * sys.completionsPerRun(shape);
  const u = await startUsage(env);
  const t0 = Date.now();
  await Promise.all(keys.map((k) => sys.create(shape, k)));
  const createMs = Date.now() - t0;
  // Poll the final queue's completed set (one ZCARD per 20 ms, the same for both systems).
  for (;;) {
    const [n, f] = await Promise.all([env.redis.zcard(completed), env.redis.zcard(failed)]);
    if (f > baseFailed) throw new Error(`${sys.key}/${shape.id}: ${f - baseFailed} jobs failed in ${finalQueue}`);
    if (n >= target) break;
    if (Date.now() - t0 > 120_000) throw new Error(`${sys.key}/${shape.id}: batch did not finish within 120 s (${n - base} of ${target - base})`);
    await sleep(20);
  }
  return phaseResult(env, sys, shape, keys, u, { mode: 'loaded', startedAt: keys.map(() => t0), createMs });
}

export type { Edge };
