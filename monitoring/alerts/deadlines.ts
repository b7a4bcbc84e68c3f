/**
 * Deadline alerts: a pipeline may say its runs must have finished by a local
 * time (`alerts.deadline`, `HH:MM`) on their run day. A periodic sweep looks
 * at unfinished runs; one past its deadline alerts once in all replicas (a
 * claim key per run, set in the same script that queues the alert) and
 * opens the pipeline's incident, which its next success resolves.
 */
import type { Redis } from 'ioredis';
import type { RunJobData } from '../../common/jobs.js';
import { RUNS_QUEUE, jobKey } from '../../common/names.js';
import { nextTicks, pipelineOfRun, type PipelineDefinition } from '../../flows/index.js';
import { keys } from '../keys.js';
import { isCancelled, runIdOfRoot } from '../runs.js';
import { pagerDutyDeadline, slackDeadline, type MissedDeadline } from './messages.js';
import type { AlertTargets } from './listener.js';
import { PUSH_LUA } from './listener.js';
import type { Log } from './redact.js';

/** The first time at or after `logicalTime` when the clock in `tz` reads `hhmm`. */
export function deadlineOf(logicalTime: Date, hhmm: string, tz: string): Date {
  const [hh, mm] = hhmm.split(':').map(Number);
  return nextTicks({ cron: `${mm} ${hh} * * *`, tz }, new Date(logicalTime.getTime() - 1000))[0]!;
}

/** KEYS: claim, incidents, slack outbox, pagerduty outbox. ARGV: claim ttl (s), pipeline, run id, slack item, pagerduty item. */
const CLAIM_LUA = `${PUSH_LUA}
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
push(KEYS[3], KEYS[4], ARGV[4], ARGV[5])
return 1`;
const CLAIM_TTL_S = 14 * 86_400;

export interface DeadlineCheckerOptions {
  connection: Redis;
  prefix: string;
  pipelines: readonly PipelineDefinition[];
  targets: AlertTargets;
  log: Log;
  /** @defaultValue 30000 */
  intervalMs?: number;
  onQueued?: () => void;
  now?: () => number;
}

export interface DeadlineChecker {
  /** Looks for runs past their deadline now; resolves with how many this replica alerted. */
  sweep(): Promise<number>;
  /** Resolves after the next periodic sweep has finished. */
  nextSweep(): Promise<void>;
  close(): Promise<void>;
}

export function startDeadlineChecker(o: DeadlineCheckerOptions): DeadlineChecker {
  const { connection: redis, prefix } = o;
  const now = o.now ?? Date.now;
  const withDeadline = new Map(o.pipelines.filter((p) => p.alerts?.deadline).map((p) => [p.id, p]));


  async function unfinishedRuns(): Promise<string[]> {
    const k = `${prefix}:${RUNS_QUEUE}`;
    const [wc, wait, active, delayed, prio] = await Promise.all([
      redis.zrange(`${k}:waiting-children`, '0', '-1'),
      redis.lrange(`${k}:wait`, 0, -1),
      redis.lrange(`${k}:active`, 0, -1),
      redis.zrange(`${k}:delayed`, '0', '-1'),
      redis.zrange(`${k}:prioritized`, '0', '-1'),
    ]);
    return [...new Set([...wc, ...wait, ...active, ...delayed, ...prio])];
  }

  async function sweep(): Promise<number> {
    if (withDeadline.size === 0) return 0;
    let alerted = 0;
    for (const rootId of await unfinishedRuns()) {
      const p = withDeadline.get(pipelineOfRun(rootId));
      if (!p) continue;
      const runId = runIdOfRoot(rootId);
      const raw = await redis.hget(jobKey(prefix, RUNS_QUEUE, rootId), 'data');
      if (!raw || (await isCancelled(redis, prefix, runId))) continue;
      const data = JSON.parse(raw) as RunJobData;
      const deadline = deadlineOf(new Date(data.logicalTime), p.alerts!.deadline!, p.alerts!.tz ?? p.schedule?.tz ?? 'UTC');
      if (now() < deadline.getTime()) continue;
      const missed: MissedDeadline = { pipeline: p.id, runId, logicalTime: data.logicalTime, deadline: deadline.toISOString() };
      const t = o.targets.target(p.id);
      const items = o.targets.items(p.id, `missed deadline of run ${runId}`, () => slackDeadline(missed, t), () => pagerDutyDeadline(missed, t));
      const claimed = await redis.eval(
        CLAIM_LUA,
        4,
        keys.deadlineClaim(prefix, runId),
        keys.incidents(prefix),
        keys.outbox(prefix, 'slack'),
        keys.outbox(prefix, 'pagerduty'),
        CLAIM_TTL_S,
        p.id,
        runId,
        ...items,
      );
      if (claimed === 1) alerted++;
    }
    if (alerted) o.onQueued?.();
    return alerted;
  }

  let closed = false;
  let waiters: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = (): void => {
    running = sweep()
      .then(
        () => undefined,
        (err: Error) => o.log(`alerts: deadline sweep: ${err.message}`),
      )
      .finally(() => {
        const w = waiters;
        waiters = [];
        for (const f of w) f();
        if (!closed) timer = setTimeout(tick, o.intervalMs ?? 30_000);
      });
  };
  if (withDeadline.size) tick();
  return {
    sweep,
    nextSweep: () => new Promise<void>((resolve) => waiters.push(resolve)),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
