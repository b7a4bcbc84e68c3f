/**
 * The alerts themselves, as pure data: Slack `chat.postMessage` arguments
 * (Block Kit) and PagerDuty Events API v2 events (without the routing key,
 * which the sender adds from the environment). Every free text is redacted
 * and cut to Slack's and PagerDuty's limits.
 */
import type { AlertSeverity } from '../../flows/index.js';
import type { Redact } from './redact.js';
import type { RunFailure } from './run-report.js';

export interface AlertTarget {
  /** Slack channel of the pipeline. */
  channel: string;
  severity: AlertSeverity;
  /** Base URL of the dashboard; a run's page is `<dashboardUrl>/runs/<runId>`. */
  dashboardUrl: string;
  redact: Redact;
}

export interface SlackMessage {
  channel: string;
  text: string;
  blocks: Record<string, unknown>[];
  unfurl_links: false;
}

export interface PagerDutyEvent {
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: AlertSeverity;
    timestamp: string;
    component: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  links?: { href: string; text: string }[];
}

export function runUrl(dashboardUrl: string, runId: string): string {
  return `${dashboardUrl.replace(/\/+$/, '')}/runs/${encodeURIComponent(runId)}`;
}

/** One incident per pipeline: a failure or missed deadline triggers it, the next success resolves it. */
export function dedupKey(pipeline: string): string {
  return `bullpen/${pipeline}`;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Slack mrkdwn needs &, < and > escaped. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const md = (text: string) => ({ type: 'mrkdwn', text });
const code = (text: string, max: number) => `\`\`\`${esc(cut(text.replace(/```/g, "'''"), max))}\`\`\``;
const linkButton = (url: string) => ({
  type: 'actions',
  elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open run' }, url }],
});

export function slackFailure(f: RunFailure, t: AlertTarget): SlackMessage {
  const url = runUrl(t.dashboardUrl, f.runId);
  const step = f.step ?? '(none: the run itself failed)';
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(`Run failed: ${f.pipeline}`, 150) } },
    {
      type: 'section',
      fields: [
        md(`*Pipeline*\n${esc(f.pipeline)}`),
        md(`*Run*\n<${url}|${esc(f.runId)}>`),
        md(`*Logical time*\n${esc(f.logicalTime)}`),
        md(`*Failed step*\n${esc(step)}`),
        md(`*Attempts*\n${f.attempts}`),
      ],
    },
    { type: 'section', text: md(`*Error*\n${code(t.redact(f.error), 1400)}`) },
  ];
  if (f.logLines.length) blocks.push({ type: 'section', text: md(`*Last log lines*\n${code(t.redact(f.logLines.join('\n')), 1400)}`) });
  blocks.push(linkButton(url));
  return {
    channel: t.channel,
    text: cut(`Bullpen run ${f.runId} of ${f.pipeline} failed at step ${step}: ${t.redact(f.error.split('\n')[0] ?? '')}`, 300),
    blocks,
    unfurl_links: false,
  };
}

export function pagerDutyTrigger(f: RunFailure, t: AlertTarget): PagerDutyEvent {
  const url = runUrl(t.dashboardUrl, f.runId);
  return {
    event_action: 'trigger',
    dedup_key: dedupKey(f.pipeline),
    payload: {
      summary: cut(`Bullpen pipeline ${f.pipeline} failed: run ${f.runId}, step ${f.step ?? '(none)'}: ${t.redact(f.error.split('\n')[0] ?? '')}`, 1024),
      source: 'bullpen',
      severity: t.severity,
      timestamp: new Date(f.failedAt).toISOString(),
      component: f.pipeline,
      group: f.step ?? 'run',
      class: 'run-failed',
      custom_details: {
        run_id: f.runId,
        logical_time: f.logicalTime,
        failed_step: f.step ?? null,
        attempts: f.attempts,
        error: cut(t.redact(f.error), 4000),
        last_log_lines: t.redact(f.logLines.join('\n')),
      },
    },
    links: [{ href: url, text: 'Run in the Bullpen dashboard' }],
  };
}

export function slackRecovery(pipeline: string, runId: string, t: AlertTarget): SlackMessage {
  const url = runUrl(t.dashboardUrl, runId);
  return {
    channel: t.channel,
    text: `Bullpen pipeline ${pipeline} recovered: run ${runId} succeeded`,
    blocks: [
      { type: 'section', text: md(`:white_check_mark: *Recovered: ${esc(pipeline)}*\nRun <${url}|${esc(runId)}> succeeded.`) },
    ],
    unfurl_links: false,
  };
}

export function pagerDutyResolve(pipeline: string): PagerDutyEvent {
  return { event_action: 'resolve', dedup_key: dedupKey(pipeline) };
}

export interface MissedDeadline {
  pipeline: string;
  runId: string;
  logicalTime: string;
  /** The deadline, ISO 8601. */
  deadline: string;
}

export function slackDeadline(d: MissedDeadline, t: AlertTarget): SlackMessage {
  const url = runUrl(t.dashboardUrl, d.runId);
  return {
    channel: t.channel,
    text: `Bullpen run ${d.runId} of ${d.pipeline} missed its deadline ${d.deadline}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: cut(`Deadline missed: ${d.pipeline}`, 150) } },
      {
        type: 'section',
        fields: [
          md(`*Pipeline*\n${esc(d.pipeline)}`),
          md(`*Run*\n<${url}|${esc(d.runId)}>`),
          md(`*Logical time*\n${esc(d.logicalTime)}`),
          md(`*Deadline*\n${esc(d.deadline)}`),
        ],
      },
      linkButton(url),
    ],
    unfurl_links: false,
  };
}

export function pagerDutyDeadline(d: MissedDeadline, t: AlertTarget): PagerDutyEvent {
  return {
    event_action: 'trigger',
    dedup_key: dedupKey(d.pipeline),
    payload: {
      summary: `Bullpen pipeline ${d.pipeline}: run ${d.runId} not finished by its deadline ${d.deadline}`,
      source: 'bullpen',
      severity: t.severity,
      timestamp: d.deadline,
      component: d.pipeline,
      group: 'run',
      class: 'deadline-missed',
      custom_details: { run_id: d.runId, logical_time: d.logicalTime, deadline: d.deadline },
    },
    links: [{ href: runUrl(t.dashboardUrl, d.runId), text: 'Run in the Bullpen dashboard' }],
  };
}
