/**
 * Admission: at most `limit` runs of a lane (a pipeline, or a backfill) are
 * active at once; the others wait in logical-time order. The state lives in
 * Redis and every change is one Lua script, so producers, workers and replicas
 * agree without locks. `heal` drops slots held by runs that ended or never got
 * created (a process died between two steps), so a lost release cannot wedge
 * a pipeline.
 */
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ADMISSION_QUEUE, RUNS_QUEUE, laneKeys, runMetaKey } from './names.js';

/** How long a slot may be held by a run whose root job does not exist yet (it is being created). */
export const CREATE_GRACE_MS = 60_000;

const ADMIT_NEXT = `
local limit = tonumber(redis.call('GET', KEYS[3]) or '1')
local admitted = {}
while redis.call('SCARD', KEYS[1]) < limit do
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #head == 0 then break end
  redis.call('ZREM', KEYS[2], head[1])
  redis.call('SADD', KEYS[1], head[1])
  table.insert(admitted, head[1])
end
return admitted`;

/**
 * A run enters its lane, in one call: claim its id (unless a run holds it),
 * write its control hash, index it, queue it and admit what fits.
 * KEYS: active, pending, limit, meta, index. ARGV: runId, score, limit, claim
 * (1/0), index score, then meta field/value pairs.
 * Returns {claimed, active, admitted ids, index size, oldest index score}.
 */
const ENTER = `
if ARGV[4] == '1' and redis.call('HEXISTS', KEYS[4], 'root') == 1 then return {0, 0, {}, 0, 0} end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('ZADD', KEYS[5], 'NX', ARGV[5], ARGV[1])
redis.call('SET', KEYS[3], ARGV[3])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
end
local admitted = (function()
${ADMIT_NEXT}
end)()
local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
return {1, redis.call('SISMEMBER', KEYS[1], ARGV[1]), admitted, redis.call('ZCARD', KEYS[5]), oldest[2] or 0}`;

/** KEYS: active, pending, limit. ARGV: runId. */
const RELEASE = `
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
${ADMIT_NEXT}`;

/** KEYS: active, pending, limit. ARGV: key prefix, now, create grace. */
const HEAL = `
for _, run in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local meta = ARGV[1] .. ':bullpen:run:' .. run
  local root = redis.call('HGET', meta, 'root')
  local created = tonumber(redis.call('HGET', meta, 'created') or '0')
  local rootKey = root and (ARGV[1] .. ':${RUNS_QUEUE}:' .. root) or nil
  if rootKey and redis.call('HEXISTS', rootKey, 'finishedOn') == 1 then
    redis.call('SREM', KEYS[1], run)
  elseif (not rootKey or redis.call('EXISTS', rootKey) == 0) and created + tonumber(ARGV[3]) < tonumber(ARGV[2]) then
    redis.call('SREM', KEYS[1], run)
  end
end
${ADMIT_NEXT}`;

export class Admission {
  private readonly queue: Queue;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.queue = new Queue(ADMISSION_QUEUE, { connection: redis, prefix });
  }

  /** Promotes the admit jobs of runs just admitted, so they start now. */
  async wake(runIds: readonly string[]): Promise<void> {
    await Promise.all(
      runIds.map(async (runId) => {
        const admit = await this.redis.hget(this.metaKey(runId), 'admit');
        if (admit) await new Job(this.queue, 'admit', {}, {}, admit).promote().catch(() => undefined);
      }),
    );
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  private keys(lane: string): string[] {
    const k = laneKeys(this.prefix, lane);
    return [k.active, k.pending, k.limit];
  }

  /**
   * A run enters its lane (see ENTER). With `claim`, nothing is written when
   * the run id is already held, and `claimed` is false.
   */
  async enter(e: {
    lane: string;
    limit: number;
    runId: string;
    logicalMs: number;
    claim: boolean;
    meta: Record<string, string | number>;
    index: { key: string; score: number };
  }): Promise<{ claimed: boolean; active: boolean; admitted: string[]; indexSize: number; oldestMs: number }> {
    const [claimed, active, admitted, indexSize, oldest] = (await this.redis.eval(
      ENTER,
      5,
      ...this.keys(e.lane),
      this.metaKey(e.runId),
      e.index.key,
      e.runId,
      e.logicalMs,
      e.limit,
      e.claim ? '1' : '0',
      e.index.score,
      ...Object.entries(e.meta).flat(),
    )) as [number, number, string[], number, string | number];
    return { claimed: claimed === 1, active: active === 1, admitted, indexSize, oldestMs: Number(oldest) };
  }

  /** Frees the run's slot (or its place in line); returns the run ids admitted in its place. */
  async release(lane: string, runId: string): Promise<string[]> {
    return (await this.redis.eval(RELEASE, 3, ...this.keys(lane), runId)) as string[];
  }

  /** Frees slots of runs that ended or were never created; returns the run ids admitted. */
  async heal(lane: string, now = Date.now()): Promise<string[]> {
    return (await this.redis.eval(HEAL, 3, ...this.keys(lane), this.prefix, now, CREATE_GRACE_MS)) as string[];
  }

  async isActive(lane: string, runId: string): Promise<boolean> {
    return (await this.redis.sismember(laneKeys(this.prefix, lane).active, runId)) === 1;
  }

  /** Place in line (0 = next), or undefined when not waiting. */
  async position(lane: string, runId: string): Promise<number | undefined> {
    const rank = await this.redis.zrank(laneKeys(this.prefix, lane).pending, runId);
    return rank ?? undefined;
  }

  /** The run's control hash (lane, root of the current attempt, cancelled). */
  metaKey(runId: string): string {
    return runMetaKey(this.prefix, runId);
  }
}
