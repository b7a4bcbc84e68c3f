/**
 * A monitor: the tally (job events → counters in Redis), the alert listener
 * and deadline checker (→ outboxes), one outbox sender per configured sink,
 * and the metrics endpoint. Any number of replicas may run; none of it runs
 * inside a worker's job path, so a slow or failing sink never slows a step.
 */
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { POOLS, stepQueue } from '../common/names.js';
import type { PipelineDefinition } from '../flows/index.js';
import { startDeadlineChecker, type DeadlineChecker } from './alerts/deadlines.js';
import { alertTargets, startAlertListener, type AlertListener } from './alerts/listener.js';
import { startOutboxSender, type OutboxSender, type OutboxSenderOptions } from './alerts/outbox.js';
import { pagerDutySink } from './alerts/pagerduty.js';
import { redactedLog, redactor, type Log } from './alerts/redact.js';
import { slackSink } from './alerts/slack.js';
import { createMetrics, type BullpenMetrics } from './metrics.js';
import { startMetricsServer, type MetricsServer } from './server.js';
import type { MonitorSettings } from '../common/monitor-config.js';
import { startTally, type Tally } from './tally.js';

/** Every step queue workers may consume: each step type in each pool. */
export function stepQueuesOf(stepTypes: readonly string[]): string[] {
  return stepTypes.flatMap((t) => POOLS.map((p) => stepQueue(t, p)));
}

export type OutboxTuning = Pick<OutboxSenderOptions, 'pollMs' | 'leaseMs' | 'retryMs' | 'timeoutMs' | 'resetTimeoutMs'>;

export interface MonitorOptions {
  redisUrl: string;
  /** Shared connection for non-blocking commands (not closed by the monitor). */
  connection: Redis;
  prefix: string;
  pipelines: readonly PipelineDefinition[];
  /** Registered step type names (e.g. `registry.names()`). */
  stepTypes: readonly string[];
  settings: MonitorSettings;
  outbox?: OutboxTuning;
  /** Where log lines go (after redaction). @defaultValue stderr */
  log?: Log;
  /** States of this process's other circuit breakers (e.g. the backends'), for `bullpen_circuit_state`. */
  breakers?: () => Record<string, BreakerStateName>;
}

export type BreakerStateName = 'closed' | 'halfOpen' | 'open';

export interface Monitor {
  metrics: BullpenMetrics;
  /** Undefined when `metricsPort` is 0. */
  server?: MetricsServer;
  senders: Partial<Record<'slack' | 'pagerduty', OutboxSender>>;
  tally: Tally;
  listener: AlertListener;
  deadlines: DeadlineChecker;
  close(): Promise<void>;
}

export async function startMonitor(o: MonitorOptions): Promise<Monitor> {
  const s = o.settings;
  const redact = redactor([s.slackToken, s.pagerdutyRoutingKey]);
  const log = redactedLog(redact, o.log);
  const common = { connection: o.connection, prefix: o.prefix, log, ...o.outbox };
  const senders: Monitor['senders'] = {};
  if (s.slackToken) senders.slack = startOutboxSender({ ...common, sink: slackSink({ token: s.slackToken, apiUrl: s.slackApiUrl, log }) });
  if (s.pagerdutyRoutingKey) {
    senders.pagerduty = startOutboxSender({ ...common, sink: pagerDutySink({ routingKey: s.pagerdutyRoutingKey, url: s.pagerdutyUrl }) });
  }
  const wake = (): void => Object.values(senders).forEach((x) => x.wake());
  const targets = alertTargets(
    o.pipelines,
    { slack: !!senders.slack, pagerduty: !!senders.pagerduty, slackChannel: s.slackChannel, severity: s.pagerdutySeverity, dashboardUrl: s.dashboardUrl },
    redact,
    log,
  );
  const stepQueues = stepQueuesOf(o.stepTypes);
  const base = { redisUrl: o.redisUrl, connection: o.connection, prefix: o.prefix };
  const [tally, listener] = await Promise.all([
    startTally({ ...base, stepQueues, onError: (err) => log(err.message) }),
    startAlertListener({ ...base, targets, log, onQueued: wake }),
  ]);
  const deadlines = startDeadlineChecker({ ...base, pipelines: o.pipelines, targets, log, intervalMs: s.deadlineCheckMs, onQueued: wake });
  const metrics = createMetrics({
    connection: o.connection,
    prefix: o.prefix,
    pipelines: o.pipelines,
    stepQueues,
    breakers: () => ({
      ...o.breakers?.(),
      ...Object.fromEntries(
        Object.entries(senders).map(([name, x]) => [name, x.breaker.opened ? 'open' : x.breaker.halfOpen ? 'halfOpen' : 'closed'] as const),
      ),
    }),
  });
  const server =
    s.metricsPort > 0
      ? await startMetricsServer({ registry: metrics.registry, port: s.metricsPort, host: s.metricsHost, onError: (err) => log(`metrics: ${err.message}`) })
      : undefined;
  return {
    metrics,
    ...(server ? { server } : {}),
    senders,
    tally,
    listener,
    deadlines,
    close: async () => {
      await server?.close();
      await Promise.all([tally.close(), listener.close(), deadlines.close()]);
      await Promise.all(Object.values(senders).map((x) => x.close()));
      await metrics.close();
    },
  };
}

export interface ProcessMetricsOptions {
  connection: Redis;
  prefix: string;
  pipelines: readonly PipelineDefinition[];
  stepTypes: readonly string[];
  /** @defaultValue 9464 */
  port?: number;
  host?: string;
  log?: Log;
  /** States of this process's circuit breakers, for `bullpen_circuit_state`. */
  breakers?: () => Record<string, BreakerStateName>;
}

/** `/metrics` for processes other than the monitor (workers, dev, scheduler): the same series, read from Redis. */
export async function serveMetrics(o: ProcessMetricsOptions): Promise<{ server: MetricsServer; registry: Registry; close(): Promise<void> }> {
  const metrics = createMetrics({
    connection: o.connection,
    prefix: o.prefix,
    pipelines: o.pipelines,
    stepQueues: stepQueuesOf(o.stepTypes),
    ...(o.breakers ? { breakers: o.breakers } : {}),
  });
  const log = o.log ?? ((l: string) => console.error(l));
  const server = await startMetricsServer({
    registry: metrics.registry,
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
    onError: (err) => log(`metrics: ${err.message}`),
  });
  return {
    server,
    /** Add the process's own metrics here (e.g. the backends' breakers). */
    registry: metrics.registry,
    close: async () => {
      await server.close();
      await metrics.close();
    },
  };
}
