/**
 * The scheduler: keeps one BullMQ job scheduler per scheduled pipeline (cron
 * pattern and time zone) and turns their ticks into runs. Any number of
 * replicas may run: each processes ticks (BullMQ hands every tick job to one of
 * them, and tick-derived run ids make duplicates impossible anyway), but only
 * the holder of a Redis lease syncs the job schedulers, because concurrent
 * upserts race in BullMQ. Sync never removes-then-re-adds: unchanged schedules
 * are left alone, changed ones upserted, dropped ones removed.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { POOLS, TICKS_QUEUE, stepQueue } from '../common/names.js';
import { ownedConnection } from '../common/redis.js';
import type { RunCreator } from './runs.js';
import { TickHandler, type TickResult } from './ticks.js';

const LEASE = `
local cur = redis.call('GET', KEYS[1])
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface SchedulerOptions {
  redisUrl: string;
  connection: Redis;
  prefix: string;
  runs: RunCreator;
  /** Global concurrency per step type across all workers, e.g. `{ 'warehouse.load': 2 }`. */
  stepConcurrency?: Readonly<Record<string, number>>;
  /** Lease time-to-live. @defaultValue 15000 */
  leaseMs?: number;
  /** Lease renewal and leader re-sync interval. @defaultValue 5000 */
  renewMs?: number;
  /** The clock (tests pass a simulated one). @defaultValue () => new Date() */
  now?: () => Date;
}

export interface SyncResult {
  upserted: string[];
  removed: string[];
  unchanged: string[];
}

interface SchedulerEvents {
  leader: [];
  synced: [SyncResult];
  tick: [TickResult];
  error: [Error];
}

export class Scheduler extends EventEmitter<SchedulerEvents> {
  readonly id = randomUUID();
  readonly ticks: TickHandler;
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private leader = false;
  private lastSynced = '';

  constructor(private readonly opts: SchedulerOptions) {
    super();
    this.queue = new Queue(TICKS_QUEUE, { connection: opts.connection, prefix: opts.prefix });
    this.ticks = new TickHandler(opts.connection, opts.prefix, opts.runs);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  private get leaseKey(): string {
    return `${this.opts.prefix}:bullpen:scheduler-lease`;
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  async start(): Promise<void> {
    this.worker = new Worker(TICKS_QUEUE, (job: Job<{ pipeline: string }>) => this.onTick(job), {
      connection: ownedConnection(this.opts.redisUrl),
      prefix: this.opts.prefix,
      concurrency: 4,
    });
    this.worker.on('error', (err) => this.emit('error', err));
    await this.worker.waitUntilReady();
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.opts.renewMs ?? 5000);
  }

  /** Renews (or takes) the lease; the leader syncs when the definitions differ from its last sync. */
  private async beat(): Promise<void> {
    try {
      const held = (await this.opts.connection.eval(LEASE, 1, this.leaseKey, this.id, this.opts.leaseMs ?? 15_000)) === 1;
      if (held && !this.leader) {
        this.leader = true;
        this.lastSynced = '';
        this.emit('leader');
      }
      this.leader = held;
      if (held) await this.sync();
    } catch (err) {
      this.emit('error', err as Error);
    }
  }

  /** Makes the job schedulers match the pipelines' schedules (leader only). */
  async sync(force = false): Promise<SyncResult> {
    const result: SyncResult = { upserted: [], removed: [], unchanged: [] };
    const wanted = new Map(this.opts.runs.pipelines.filter((p) => p.schedule).map((p) => [p.id, p.schedule!]));
    const signature = JSON.stringify([...wanted]) + JSON.stringify(this.opts.stepConcurrency ?? {});
    if (!force && signature === this.lastSynced) return result;
    const existing = new Map((await this.queue.getJobSchedulers(0, -1)).map((s) => [s.key, s]));
    const now = this.now();
    for (const [id, schedule] of wanted) {
      await this.ticks.init(id, now);
      const tz = schedule.tz ?? 'UTC';
      const cur = existing.get(id);
      if (cur && cur.pattern === schedule.cron && (cur.tz ?? 'UTC') === tz) {
        result.unchanged.push(id);
        continue;
      }
      await this.queue.upsertJobScheduler(
        id,
        { pattern: schedule.cron, tz },
        { name: 'tick', data: { pipeline: id }, opts: { removeOnComplete: 100, removeOnFail: 100 } },
      );
      result.upserted.push(id);
    }
    for (const key of existing.keys()) {
      if (wanted.has(key)) continue;
      await this.queue.removeJobScheduler(key);
      result.removed.push(key);
    }
    for (const [type, n] of Object.entries(this.opts.stepConcurrency ?? {})) {
      for (const pool of POOLS) {
        const q = new Queue(stepQueue(type, pool), { connection: this.opts.connection, prefix: this.opts.prefix });
        await q.setGlobalConcurrency(n);
        await q.close();
      }
    }
    this.lastSynced = signature;
    this.emit('synced', result);
    return result;
  }

  private async onTick(job: Job<{ pipeline: string }>): Promise<TickResult | { skipped: string }> {
    const pipeline = this.opts.runs.pipelines.find((p) => p.id === job.data.pipeline);
    if (!pipeline) return { skipped: `unknown pipeline ${job.data.pipeline}` };
    const firedMs = job.opts.prevMillis ?? Number(job.id?.split(':').at(-1));
    const result = await this.ticks.handle(pipeline, this.now(), Number.isFinite(firedMs) ? new Date(firedMs) : undefined);
    this.emit('tick', result);
    return result;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.worker?.close();
    if (this.leader) await this.opts.connection.eval(RELEASE, 1, this.leaseKey, this.id).catch(() => undefined);
    this.leader = false;
    await this.queue.close();
  }
}
