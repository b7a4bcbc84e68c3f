/** Cheap probes: Redis server CPU, commands sent by this process, percentiles. */
import { Redis } from 'ioredis';

/** CPU time the Redis server has used so far (user + system), in ms. */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string): number => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
}

interface SentCommand {
  name: string;
  args: unknown[];
}

/**
 * Counts every command this process sends to Redis, by name; Lua scripts
 * (EVALSHA/EVAL of a defined command) by script name, e.g. `lua:moveToFinished`.
 * Works by wrapping ioredis' Redis.prototype.sendCommand, which pipelines and
 * MULTI blocks also go through (so a MULTI of 5 counts as multi + 5 + exec).
 */
export class Counter {
  private counts = new Map<string, number>();
  private readonly names = new WeakMap<object, Map<string, string>>();

  install(): void {
    const proto = Redis.prototype as unknown as { sendCommand: (this: Redis, cmd: SentCommand, ...rest: unknown[]) => unknown };
    const original = proto.sendCommand;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const counter = this;
    proto.sendCommand = function (this: Redis, cmd: SentCommand, ...rest: unknown[]) {
      counter.count(this, cmd);
      return original.call(this, cmd, ...rest);
    };
  }

  private scriptName(redis: Redis, sha: string): string {
    let byHash = this.names.get(redis);
    if (!byHash || !byHash.has(sha)) {
      byHash = new Map();
      const set = (redis as unknown as { scriptsSet?: Record<string, { sha: string }> }).scriptsSet ?? {};
      for (const [name, script] of Object.entries(set)) byHash.set(script.sha, name);
      this.names.set(redis, byHash);
    }
    return byHash.get(sha) ?? 'other';
  }

  private count(redis: Redis, cmd: SentCommand): void {
    let key = cmd.name.toLowerCase();
    if (key === 'evalsha' && typeof cmd.args[0] === 'string') key = `lua:${this.scriptName(redis, cmd.args[0])}`;
    else if (key === 'eval') key = 'eval (ad-hoc or first load)';
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  reset(): void {
    this.counts = new Map();
  }

  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }
}

/** Nearest-rank percentile of unsorted values (q in 0..1). */
export function percentile(values: readonly number[], q: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}
