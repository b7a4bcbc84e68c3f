/** Helpers for monitoring tests: monitors on a test engine, event ids, and waiting on Redis conditions. */
import type { Redis } from 'ioredis';
import { startMonitor, type Monitor, type OutboxTuning } from '../../monitoring/monitor.js';
import { loadMonitorSettings, type MonitorSettings } from '../../common/monitor-config.js';
import type { PipelineDefinition } from '../../flows/index.js';
import type { TestEngine } from './engine.js';

/** Fast retries and breaker for tests; production defaults are in outbox.ts. */
export const FAST_OUTBOX: OutboxTuning = { pollMs: 50, retryMs: 50, leaseMs: 5_000, resetTimeoutMs: 300, timeoutMs: 2_000 };

export async function startTestMonitor(
  engine: TestEngine,
  pipelines: readonly PipelineDefinition[],
  settings: Partial<MonitorSettings>,
  opts: { log?: (line: string) => void; outbox?: OutboxTuning } = {},
): Promise<Monitor> {
  return startMonitor({
    redisUrl: engine.url,
    connection: engine.connection,
    prefix: engine.prefix,
    pipelines,
    stepTypes: engine.registry.names(),
    settings: loadMonitorSettings({ metricsPort: 0, ...settings }, {}),
    outbox: opts.outbox ?? FAST_OUTBOX,
    ...(opts.log ? { log: opts.log } : {}),
  });
}

/** Stream id of the newest `event` of `jobId` in a queue's event stream. */
export async function eventIdOf(redis: Redis, prefix: string, queue: string, event: string, jobId: string): Promise<string> {
  const entries = await redis.xrevrange(`${prefix}:${queue}:events`, '+', '-', 'COUNT', 1000);
  for (const [id, fields] of entries) {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
    if (f.get('event') === event && f.get('jobId') === jobId) return id;
  }
  throw new Error(`no ${event} event of ${jobId} in ${queue}'s stream`);
}

/** Resolves when `check` holds, re-reading every 25 ms (a condition, not a fixed wait); rejects after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
