/**
 * Monitoring and metrics settings from the environment (with common/config.ts
 * and the other *-config.ts files here, the one place for configuration).
 * Tokens come only from the environment and are never printed, not even in
 * validation errors.
 */
import { z } from 'zod';
import { loadFromEnv } from './config.js';

const severity = z.enum(['critical', 'error', 'warning', 'info']);
const schema = z.object({
  /** Port of `/metrics` and `/healthz`; 0 turns the server off. @defaultValue 9464 */
  metricsPort: z.coerce.number().int().min(0).max(65535),
  /** Address the metrics server binds. @defaultValue 0.0.0.0 */
  metricsHost: z.string().min(1),
  /** Slack bot token (xoxb-…); no token, no Slack alerts. */
  slackToken: z.string().optional(),
  /** Channel of pipelines that name none (`alerts.slackChannel`). */
  slackChannel: z.string().optional(),
  /** Slack Web API base URL. @defaultValue https://slack.com/api/ */
  slackApiUrl: z.string().url(),
  /** PagerDuty Events API v2 integration key; no key, no PagerDuty alerts. */
  pagerdutyRoutingKey: z.string().optional(),
  /** @defaultValue https://events.pagerduty.com/v2/enqueue */
  pagerdutyUrl: z.string().url(),
  /** Severity of pipelines that name none (`alerts.severity`). @defaultValue error */
  pagerdutySeverity: severity,
  /** Base URL of the dashboard, for the run links in alerts. @defaultValue http://localhost:3000 */
  dashboardUrl: z.string().url(),
  /** How often deadlines are checked. @defaultValue 30000 */
  deadlineCheckMs: z.coerce.number().int().min(100),
});

export type MonitorSettings = z.infer<typeof schema>;

const ENV: Record<keyof MonitorSettings, readonly string[]> = {
  metricsPort: ['BULLPEN_METRICS_PORT'],
  metricsHost: ['BULLPEN_METRICS_HOST'],
  slackToken: ['BULLPEN_SLACK_TOKEN', 'SLACK_BOT_TOKEN'],
  slackChannel: ['BULLPEN_SLACK_CHANNEL'],
  slackApiUrl: ['BULLPEN_SLACK_API_URL'],
  pagerdutyRoutingKey: ['BULLPEN_PAGERDUTY_ROUTING_KEY'],
  pagerdutyUrl: ['BULLPEN_PAGERDUTY_URL'],
  pagerdutySeverity: ['BULLPEN_PAGERDUTY_SEVERITY'],
  dashboardUrl: ['BULLPEN_DASHBOARD_URL'],
  deadlineCheckMs: ['BULLPEN_DEADLINE_CHECK_MS'],
};
const SECRET = new Set<keyof MonitorSettings>(['slackToken', 'pagerdutyRoutingKey']);

export const MONITOR_DEFAULTS = {
  metricsPort: 9464,
  metricsHost: '0.0.0.0',
  slackApiUrl: 'https://slack.com/api/',
  pagerdutyUrl: 'https://events.pagerduty.com/v2/enqueue',
  pagerdutySeverity: 'error',
  dashboardUrl: 'http://localhost:3000',
  deadlineCheckMs: 30_000,
} as const satisfies Partial<MonitorSettings>;

export function loadMonitorSettings(overrides: Partial<MonitorSettings> = {}, env: NodeJS.ProcessEnv = process.env): MonitorSettings {
  return loadFromEnv({ what: 'monitoring configuration', schema, env: ENV, defaults: MONITOR_DEFAULTS, overrides, secret: SECRET, from: env });
}
