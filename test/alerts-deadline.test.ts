/**
 * Deadline alerts: a run not finished by its pipeline's deadline alerts once
 * (two replicas, many sweeps) to Slack and PagerDuty; a run whose deadline is
 * ahead does not; the late run's success then resolves the incident.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, task } from '../flows/index.js';
import { deadlineOf } from '../monitoring/alerts/deadlines.js';
import { keys } from '../monitoring/keys.js';
import type { Monitor } from '../monitoring/monitor.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { startFakePagerDuty, type FakePagerDuty } from './helpers/fake-pagerduty.js';
import { startFakeSlack, type FakeSlack } from './helpers/fake-slack.js';
import { Recorder } from './helpers/recorder.js';
import { startTestMonitor, until } from './helpers/monitoring.js';

const rec = new Recorder();
const crunch = task('crunch', {
  run: async (ctx) => {
    rec.record(ctx.runId, 'crunch', 'start');
    await rec.latch(ctx.runId);
    return 'done';
  },
});
const nightly = definePipeline({ id: 'nightly', alerts: { deadline: '09:00', tz: 'Europe/Berlin', slackChannel: '#nightly' }, steps: [crunch] });
/** Same deadline, for runs whose deadline is still ahead (a pipeline of its own: one active run per pipeline). */
const future = definePipeline({ id: 'future', alerts: { deadline: '09:00', tz: 'Europe/Berlin', slackChannel: '#nightly' }, steps: [crunch] });
const pipelines = [nightly, future];

let engine: TestEngine;
let slack: FakeSlack;
let pd: FakePagerDuty;
const monitors: Monitor[] = [];

beforeAll(async () => {
  [engine, slack, pd] = await Promise.all([createEngine({ label: 'deadline', pipelines }), startFakeSlack(), startFakePagerDuty()]);
  await engine.worker({ concurrency: 4 });
});
afterAll(async () => {
  await Promise.all(monitors.map((m) => m.close()));
  await engine.close();
  await Promise.all([slack.close(), pd.close()]);
});

describe('deadlines', () => {
  it('the deadline is the first HH:MM in the zone at or after the logical time', () => {
    expect(deadlineOf(new Date('2026-03-29T05:00:00Z'), '09:00', 'Europe/Berlin').toISOString()).toBe('2026-03-29T07:00:00.000Z');
    expect(deadlineOf(new Date('2026-01-10T05:00:00Z'), '09:00', 'Europe/Berlin').toISOString()).toBe('2026-01-10T08:00:00.000Z');
    expect(deadlineOf(new Date('2026-01-10T22:00:00Z'), '09:00', 'Europe/Berlin').toISOString()).toBe('2026-01-11T08:00:00.000Z');
    expect(deadlineOf(new Date('2026-01-10T09:00:00Z'), '09:00', 'UTC').toISOString()).toBe('2026-01-10T09:00:00.000Z');
  });

  it('a run not finished by its deadline alerts once; one whose deadline is ahead does not', async () => {
    const late = await engine.runs.start('nightly', { logicalTime: new Date('2025-11-29T05:00:00Z') });
    const early = await engine.runs.start('future', { logicalTime: new Date('2099-01-01T05:00:00Z') });
    await rec.waitFor((e) => e.runId === late.runId && e.step === 'crunch');
    await rec.waitFor((e) => e.runId === early.runId && e.step === 'crunch');
    const settings = {
      slackToken: 'xoxb-deadline',
      slackApiUrl: slack.apiUrl,
      pagerdutyRoutingKey: 'pd-deadline',
      pagerdutyUrl: pd.url,
      deadlineCheckMs: 100,
      dashboardUrl: 'http://dash.local',
    };
    for (let i = 0; i < 2; i++) monitors.push(await startTestMonitor(engine, pipelines, settings,));
    await Promise.all([slack.waitForCalls(1), pd.waitForEvents(1)]);
    // two more full sweeps on each replica: still one alert
    for (let i = 0; i < 2; i++) await Promise.all(monitors.map((m) => m.deadlines.nextSweep()));
    await until('the outboxes are empty', async () => (await engine.connection.llen(keys.outbox(engine.prefix, 'slack'))) === 0);

    const url = `http://dash.local/runs/${late.runId}`;
    expect(slack.calls.map((c) => c.args)).toEqual([
      {
        channel: '#nightly',
        text: `Bullpen run ${late.runId} of nightly missed its deadline 2025-11-29T08:00:00.000Z`,
        unfurl_links: 'false',
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'Deadline missed: nightly' } },
          {
            type: 'section',
            fields: [
              { type: 'mrkdwn', text: '*Pipeline*\nnightly' },
              { type: 'mrkdwn', text: `*Run*\n<${url}|${late.runId}>` },
              { type: 'mrkdwn', text: '*Logical time*\n2025-11-29T05:00:00.000Z' },
              { type: 'mrkdwn', text: '*Deadline*\n2025-11-29T08:00:00.000Z' },
            ],
          },
          { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open run' }, url }] },
        ],
      },
    ]);
    expect(pd.events).toEqual([
      {
        routing_key: 'pd-deadline',
        event_action: 'trigger',
        dedup_key: 'bullpen/nightly',
        payload: {
          summary: `Bullpen pipeline nightly: run ${late.runId} not finished by its deadline 2025-11-29T08:00:00.000Z`,
          source: 'bullpen',
          severity: 'error',
          timestamp: '2025-11-29T08:00:00.000Z',
          component: 'nightly',
          group: 'run',
          class: 'deadline-missed',
          custom_details: { run_id: late.runId, logical_time: '2025-11-29T05:00:00.000Z', deadline: '2025-11-29T08:00:00.000Z' },
        },
        links: [{ href: url, text: 'Run in the Bullpen dashboard' }],
      },
    ]);
  });

  it("the late run's success resolves the incident", async () => {
    const late = 'nightly.20251129T050000Z';
    rec.open(late);
    expect((await engine.watcher.wait(late, 20_000)).status).toBe('succeeded');
    await pd.waitForEvents(2);
    await slack.waitForCalls(2);
    expect(pd.events[1]).toEqual({ routing_key: 'pd-deadline', event_action: 'resolve', dedup_key: 'bullpen/nightly' });
    expect(slack.calls[1]!.args.text).toBe(`Bullpen pipeline nightly recovered: run ${late} succeeded`);
    rec.open('future.20990101T050000Z');
  });
});
