/**
 * The alert listener: follows the runs queue's events and turns a run's
 * final failure into one alert per sink (Slack, PagerDuty), and the next
 * success of a pipeline with an open incident into a recovery. Step retries
 * never reach it: a run fails only once its failing step has no attempts
 * left. Several replicas may run: each event is applied once in all (the
 * outbox pushes and the cursor move together in one script), and a restarted
 * listener resumes from the cursor.
 */
import type { Redis } from 'ioredis';
import { RUNS_QUEUE } from '../../common/names.js';
import { pipelineOfRun, type AlertSeverity, type PipelineDefinition } from '../../flows/index.js';
import { startEventFeed, type EventFeed, type FinishedEvent } from '../feed.js';
import { NEWER_LUA, keys } from '../keys.js';
import { pagerDutyResolve, pagerDutyTrigger, slackFailure, slackRecovery, type AlertTarget } from './messages.js';
import type { OutboxItem } from './outbox.js';
import { isCancelled, runIdOfRoot } from '../runs.js';
import type { Log, Redact } from './redact.js';
import { readRunFailure } from './run-report.js';

export interface AlertRouting {
  /** Send to Slack (a token is configured). */
  slack: boolean;
  /** Send to PagerDuty (a routing key is configured). */
  pagerduty: boolean;
  /** Channel of pipelines that name none. */
  slackChannel?: string;
  /** @defaultValue 'error' */
  severity?: AlertSeverity;
  dashboardUrl: string;
}

/** Outbox entries for each sink ('' for none), in the order the scripts take them. */
export type SinkItems = [slack: string, pagerduty: string];

export interface AlertTargets {
  target(pipeline: string): AlertTarget;
  /** JSON outbox items for the enabled sinks (Slack needs a channel). */
  items(pipeline: string, about: string, slack: () => unknown, pagerduty: () => unknown): SinkItems;
}

export function alertTargets(pipelines: readonly PipelineDefinition[], routing: AlertRouting, redact: Redact, log: Log): AlertTargets {
  const byId = new Map(pipelines.map((p) => [p.id, p]));
  const warned = new Set<string>();
  const target = (pipeline: string): AlertTarget => {
    const a = byId.get(pipeline)?.alerts;
    return {
      channel: a?.slackChannel ?? routing.slackChannel ?? '',
      severity: a?.severity ?? routing.severity ?? 'error',
      dashboardUrl: routing.dashboardUrl,
      redact,
    };
  };
  return {
    target,
    items: (pipeline, about, slack, pagerduty) => {
      const item = (body: unknown): string => JSON.stringify({ about, body } satisfies OutboxItem);
      let s = '';
      if (routing.slack && target(pipeline).channel) s = item(slack());
      else if (routing.slack && !warned.has(pipeline)) {
        warned.add(pipeline);
        log(`alerts: no Slack channel for pipeline ${pipeline} (set alerts.slackChannel or the default channel): Slack alerts skipped`);
      }
      return [s, routing.pagerduty ? item(pagerduty()) : ''];
    },
  };
}

export const PUSH_LUA = `
local function push(slackKey, pdKey, slackItem, pdItem)
  if slackItem ~= '' then redis.call('RPUSH', slackKey, slackItem) end
  if pdItem ~= '' then redis.call('RPUSH', pdKey, pdItem) end
end`;

/** KEYS: cursor, incidents, slack outbox, pagerduty outbox. ARGV: queue, event id, open|close, pipeline, run id, slack item, pagerduty item. */
const EVENT_LUA = `${NEWER_LUA}${PUSH_LUA}
if not newer(ARGV[2], redis.call('HGET', KEYS[1], ARGV[1])) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == 'open' then
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
  push(KEYS[3], KEYS[4], ARGV[6], ARGV[7])
  return 1
end
if redis.call('HDEL', KEYS[2], ARGV[4]) == 1 then
  push(KEYS[3], KEYS[4], ARGV[6], ARGV[7])
  return 1
end
return 0`;

export interface AlertListenerOptions {
  redisUrl: string;
  connection: Redis;
  prefix: string;
  targets: AlertTargets;
  log: Log;
  /** Called after this replica queued alerts (to wake the senders). */
  onQueued?: () => void;
}

export interface AlertListener {
  /** Resolves once every run event received so far has been handled. */
  idle(): Promise<void>;
  /** Resolves once the runs-queue event `id` (or a later one) has been handled. */
  through(id: string): Promise<void>;
  close(): Promise<void>;
}

export async function startAlertListener(o: AlertListenerOptions): Promise<AlertListener> {
  const { connection: redis, prefix, targets } = o;
  async function handle(e: FinishedEvent): Promise<void> {
    const pipeline = pipelineOfRun(e.jobId);
    const runId = runIdOfRoot(e.jobId);
    let mode: 'open' | 'close';
    let items: SinkItems;
    if (e.event === 'failed') {
      if (await isCancelled(redis, prefix, runId)) return; // cancelled on purpose: no alert
      const failure = await readRunFailure(redis, prefix, e.jobId);
      const t = targets.target(failure.pipeline);
      mode = 'open';
      items = targets.items(pipeline, `failure of run ${runId}`, () => slackFailure(failure, t), () => pagerDutyTrigger(failure, t));
    } else {
      const t = targets.target(pipeline);
      mode = 'close';
      items = targets.items(pipeline, `recovery of ${pipeline}`, () => slackRecovery(pipeline, runId, t), () => pagerDutyResolve(pipeline));
    }
    const queued = await redis.eval(
      EVENT_LUA,
      4,
      keys.cursor(prefix, 'alerts'),
      keys.incidents(prefix),
      keys.outbox(prefix, 'slack'),
      keys.outbox(prefix, 'pagerduty'),
      e.queue,
      e.id,
      mode,
      pipeline,
      runId,
      ...items,
    );
    if (queued === 1) o.onQueued?.();
  }
  const feed: EventFeed = await startEventFeed({
    redisUrl: o.redisUrl,
    connection: redis,
    prefix,
    queue: RUNS_QUEUE,
    consumer: 'alerts',
    handle,
    onError: (err, e) => o.log(`alerts: ${e ? `run ${e.jobId}: ` : ''}${err.message}`),
  });
  return { idle: () => feed.idle(), through: (id) => feed.through(id), close: () => feed.close() };
}
