/**
 * Alerts from failed runs, end to end on real Redis and BullMQ, with two
 * monitor replicas, the real Slack client against a local Slack API and
 * PagerDuty against a local Events API: retries that end in success send
 * nothing; a failed run sends exactly one Slack message and one PagerDuty
 * trigger (exact payloads, secrets redacted); the next success sends one
 * recovery message and one resolve.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNS_QUEUE } from '../common/names.js';
import { definePipeline, task } from '../flows/index.js';
import { keys } from '../monitoring/keys.js';
import type { Monitor } from '../monitoring/monitor.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { startFakePagerDuty, type FakePagerDuty } from './helpers/fake-pagerduty.js';
import { startFakeSlack, type FakeSlack } from './helpers/fake-slack.js';
import { eventIdOf, startTestMonitor, until } from './helpers/monitoring.js';
import { parseSamples, sampleValue } from './helpers/prom-text.js';
import { Recorder } from './helpers/recorder.js';
import { flakyTask } from './helpers/steps.js';

const SLACK_TOKEN = 'xoxb-test-secret-token';
const ROUTING_KEY = 'pd-routing-secret-key';
let loadSucceeds = false;

const flaky = definePipeline({
  id: 'flaky',
  steps: [
    flakyTask('wobbly'),
  ],
});
const load = task('load', {
  retries: 1,
  backoff: { type: 'fixed', delayMs: 10 },
  run: (ctx) => {
    ctx.log(`reading partition ${ctx.logicalTime.slice(0, 10)}`);
    if (loadSucceeds) return 'loaded';
    ctx.log(`connecting with ${SLACK_TOKEN}`);
    throw new Error(`warehouse refused the query (token ${SLACK_TOKEN})`);
  },
});
const report = task('report', { dependsOn: [load], run: () => 'reported' });
const breaking = definePipeline({ id: 'breaking', alerts: { slackChannel: '#ml-alerts', severity: 'critical' }, steps: [load, report] });
const started = new Recorder();
const held = definePipeline({
  id: 'held',
  steps: [
    task('wait', {
      run: (ctx) => {
        started.record(ctx.runId, 'wait', 'start');
        return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      },
    }),
  ],
});
const pipelines = [flaky, breaking, held];

let engine: TestEngine;
let slack: FakeSlack;
let pd: FakePagerDuty;
const monitors: Monitor[] = [];
const logs: string[] = [];

beforeAll(async () => {
  [engine, slack, pd] = await Promise.all([createEngine({ label: 'alerts', pipelines }), startFakeSlack(), startFakePagerDuty()]);
  const settings = {
    slackToken: SLACK_TOKEN,
    slackApiUrl: slack.apiUrl,
    slackChannel: '#bullpen',
    pagerdutyRoutingKey: ROUTING_KEY,
    pagerdutyUrl: pd.url,
    dashboardUrl: 'https://bullpen.example.com/',
  };
  for (let i = 0; i < 2; i++) monitors.push(await startTestMonitor(engine, pipelines, settings, { log: (l) => logs.push(l) }));
  await engine.worker({ concurrency: 2 });
});
afterAll(async () => {
  await Promise.all(monitors.map((m) => m.close()));
  await engine.close();
  await Promise.all([slack.close(), pd.close()]);
});

/** Waits until both replicas have handled a run's final event and every outbox is empty. */
async function settled(runId: string, event: 'completed' | 'failed'): Promise<void> {
  const id = await eventIdOf(engine.connection, engine.prefix, RUNS_QUEUE, event, runId);
  await Promise.all(monitors.map((m) => m.listener.through(id)));
  await until('every outbox is empty', async () => {
    const lengths = await Promise.all(['slack', 'pagerduty'].map((sink) => engine.connection.llen(keys.outbox(engine.prefix, sink))));
    return lengths.every((n) => n === 0);
  });
}

describe('alerts from failed runs', () => {
  it('a step that fails twice then succeeds sends nothing', async () => {
    const { runId } = await engine.runs.start('flaky');
    const run = await engine.watcher.wait(runId, 20_000);
    expect(run.steps[0]).toMatchObject({ status: 'succeeded', attempts: 3 });
    await settled(runId, 'completed');
    expect(slack.calls).toEqual([]);
    expect(pd.events).toEqual([]);
  });

  it('a failed run sends exactly one Slack message and one PagerDuty trigger, with two listeners running', async () => {
    const { runId } = await engine.runs.start('breaking', { logicalTime: new Date('2026-11-30T06:00:00Z') });
    expect(runId).toBe('breaking.20261130T060000Z');
    const run = await engine.watcher.wait(runId, 20_000);
    expect(run.status).toBe('failed');
    await settled(runId, 'failed');

    const url = 'https://bullpen.example.com/runs/breaking.20261130T060000Z';
    const error = 'warehouse refused the query (token ***)';
    const logLines = ['reading partition 2026-11-30', 'connecting with ***', 'reading partition 2026-11-30', 'connecting with ***'];
    expect(slack.calls).toEqual([
      {
        method: 'chat.postMessage',
        token: SLACK_TOKEN,
        args: {
          channel: '#ml-alerts',
          text: `Bullpen run ${runId} of breaking failed at step load: ${error}`,
          unfurl_links: 'false',
          blocks: [
            { type: 'header', text: { type: 'plain_text', text: 'Run failed: breaking' } },
            {
              type: 'section',
              fields: [
                { type: 'mrkdwn', text: '*Pipeline*\nbreaking' },
                { type: 'mrkdwn', text: `*Run*\n<${url}|${runId}>` },
                { type: 'mrkdwn', text: '*Logical time*\n2026-11-30T06:00:00.000Z' },
                { type: 'mrkdwn', text: '*Failed step*\nload' },
                { type: 'mrkdwn', text: '*Attempts*\n2' },
              ],
            },
            { type: 'section', text: { type: 'mrkdwn', text: `*Error*\n\`\`\`${error}\`\`\`` } },
            { type: 'section', text: { type: 'mrkdwn', text: `*Last log lines*\n\`\`\`${logLines.join('\n')}\`\`\`` } },
            { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open run' }, url }] },
          ],
        },
      },
    ]);
    expect(pd.events).toEqual([
      {
        routing_key: ROUTING_KEY,
        event_action: 'trigger',
        dedup_key: 'bullpen/breaking',
        payload: {
          summary: `Bullpen pipeline breaking failed: run ${runId}, step load: ${error}`,
          source: 'bullpen',
          severity: 'critical',
          timestamp: new Date(run.finishedAt!).toISOString(),
          component: 'breaking',
          group: 'load',
          class: 'run-failed',
          custom_details: { run_id: runId, logical_time: '2026-11-30T06:00:00.000Z', failed_step: 'load', attempts: 2, error, last_log_lines: logLines.join('\n') },
        },
        links: [{ href: url, text: 'Run in the Bullpen dashboard' }],
      },
    ]);
    expect(JSON.stringify(slack.calls.map((c) => c.args))).not.toContain(SLACK_TOKEN);
  });

  it('the next success sends one recovery message and one PagerDuty resolve', async () => {
    loadSucceeds = true;
    const { runId } = await engine.runs.start('breaking', { logicalTime: new Date('2026-12-01T06:00:00Z') });
    expect((await engine.watcher.wait(runId, 20_000)).status).toBe('succeeded');
    await settled(runId, 'completed');
    const url = `https://bullpen.example.com/runs/${runId}`;
    expect(slack.calls.slice(1)).toEqual([
      {
        method: 'chat.postMessage',
        token: SLACK_TOKEN,
        args: {
          channel: '#ml-alerts',
          text: `Bullpen pipeline breaking recovered: run ${runId} succeeded`,
          unfurl_links: 'false',
          blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `:white_check_mark: *Recovered: breaking*\nRun <${url}|${runId}> succeeded.` } }],
        },
      },
    ]);
    expect(pd.events.slice(1)).toEqual([{ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'bullpen/breaking' }]);
  });

  it('a cancelled run sends nothing and is counted as cancelled, not failed', async () => {
    const before = [slack.calls.length, pd.events.length];
    const { runId } = await engine.runs.start('held');
    await started.waitFor((e) => e.runId === runId);
    await engine.control.cancel(runId);
    expect((await engine.watcher.wait(runId, 20_000)).status).toBe('cancelled');
    await settled(runId, 'failed');
    const id = await eventIdOf(engine.connection, engine.prefix, RUNS_QUEUE, 'failed', runId);
    await Promise.all(monitors.map((m) => m.tally.through(RUNS_QUEUE, id)));
    expect([slack.calls.length, pd.events.length]).toEqual(before);
    const samples = parseSamples(await monitors[1]!.metrics.registry.metrics());
    expect(sampleValue(samples, 'bullpen_runs_total', { pipeline: 'held', status: 'cancelled' })).toBe(1);
    expect(sampleValue(samples, 'bullpen_runs_total', { pipeline: 'held', status: 'failed' })).toBe(0);
    expect(sampleValue(samples, 'bullpen_step_attempts_total', { pipeline: 'held', step: 'wait', outcome: 'failed' })).toBe(0);
  });

  it('no secret appears in any log line', () => {
    for (const line of logs) {
      expect(line).not.toContain(SLACK_TOKEN);
      expect(line).not.toContain(ROUTING_KEY);
    }
  });
});
