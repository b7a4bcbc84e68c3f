/**
 * The durable outbox: with Slack down the alert waits in Redis behind an open
 * breaker while runs go on unhindered, and arrives exactly once when Slack is
 * back; a run that fails while no monitor runs is alerted when one starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNS_QUEUE } from '../common/names.js';
import { definePipeline, task } from '../flows/index.js';
import { keys } from '../monitoring/keys.js';
import type { Monitor } from '../monitoring/monitor.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { startFakeSlack, type FakeSlack } from './helpers/fake-slack.js';
import { eventIdOf, startTestMonitor, until } from './helpers/monitoring.js';

const TOKEN = 'xoxb-outbox-secret';
const fails = definePipeline({ id: 'fails', steps: [task('boom', { run: () => Promise.reject(new Error('boom')) })] });
const fine = definePipeline({ id: 'fine', steps: [task('ok', { run: () => 'ok' })] });
const misrouted = definePipeline({
  id: 'misrouted',
  alerts: { slackChannel: '#no-such-channel' },
  steps: [task('boom', { run: () => Promise.reject(new Error('boom')) })],
});
const pipelines = [fails, fine, misrouted];

let engine: TestEngine;
let slack: FakeSlack;
const logs: string[] = [];
const settings = () => ({ slackToken: TOKEN, slackApiUrl: slack.apiUrl, slackChannel: '#alerts' });

beforeAll(async () => {
  [engine, slack] = await Promise.all([createEngine({ label: 'outbox', pipelines }), startFakeSlack()]);
  await engine.worker({ concurrency: 2 });
});
afterAll(async () => {
  await engine.close();
  await slack.close();
});

const outboxLength = () => engine.connection.llen(keys.outbox(engine.prefix, 'slack'));
const failureCalls = () => slack.calls.filter((c) => String(c.args.text).startsWith('Bullpen run fails.'));

describe('alert outbox', () => {
  it('Slack down for a while, then back: the alert waits in Redis and arrives once; runs are not held up', async () => {
    const monitors: Monitor[] = [];
    for (let i = 0; i < 2; i++) monitors.push(await startTestMonitor(engine, pipelines, settings(), { log: (l) => logs.push(l) }));
    try {
      slack.down = true;
      const failed = await engine.runToEnd('fails');
      expect(failed.status).toBe('failed');
      await slack.waitForRefused(3);
      await until('a Slack breaker is open', async () => monitors.some((m) => m.senders.slack!.breaker.opened));
      const gauge = await Promise.all(monitors.map((m) => m.metrics.registry.getSingleMetricAsString('bullpen_circuit_state')));
      expect(gauge.join('\n')).toMatch(/bullpen_circuit_state\{breaker="slack"\} 2/);
      expect(await outboxLength()).toBe(1);

      // steps and runs go on while Slack is down
      const started = Date.now();
      expect((await engine.runToEnd('fine')).status).toBe('succeeded');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(slack.calls).toEqual([]);

      slack.down = false;
      await slack.waitForCalls(1);
      await until('the outbox is empty', async () => (await outboxLength()) === 0);
      await Promise.all(monitors.map((m) => m.listener.idle()));
      expect(failureCalls()).toHaveLength(1);
      expect(slack.calls).toHaveLength(1);
      expect(slack.refused).toBeGreaterThanOrEqual(3);
      expect(logs.some((l) => l.includes('slack unavailable'))).toBe(true);
      for (const l of logs) expect(l).not.toContain(TOKEN);
    } finally {
      await Promise.all(monitors.map((m) => m.close()));
    }
  });

  it('an alert Slack refuses for good goes to the dead list and does not hold up the next one', async () => {
    slack.refuseChannels.set('#no-such-channel', 'channel_not_found');
    const monitor = await startTestMonitor(engine, pipelines, settings(), { log: (l) => logs.push(l) });
    try {
      const before = slack.calls.length;
      const refusedBefore = slack.refused;
      expect((await engine.runToEnd('misrouted')).status).toBe('failed');
      await slack.waitForRefused(refusedBefore + 1);
      expect((await engine.runToEnd('fails')).status).toBe('failed');
      await slack.waitForCalls(before + 1);
      expect(slack.calls.at(-1)!.args.channel).toBe('#alerts');
      const dead = await engine.connection.lrange(keys.dead(engine.prefix, 'slack'), 0, -1);
      expect(dead.map((d) => (JSON.parse(d) as { about: string }).about)).toEqual([expect.stringMatching(/^failure of run misrouted\./)]);
      expect(slack.refused).toBe(refusedBefore + 1);
      expect(logs.some((l) => l.includes('slack refused the alert') && l.includes('channel_not_found'))).toBe(true);
    } finally {
      await monitor.close();
    }
  });

  it('a run that fails while no monitor runs is alerted once a monitor starts again', async () => {
    const before = failureCalls().length;
    const { runId } = await engine.runs.start('fails');
    expect((await engine.watcher.wait(runId, 20_000)).status).toBe('failed');
    expect(failureCalls()).toHaveLength(before);
    const monitor = await startTestMonitor(engine, pipelines, settings());
    try {
      await monitor.listener.through(await eventIdOf(engine.connection, engine.prefix, RUNS_QUEUE, 'failed', runId));
      await slack.waitForCalls(before + 1);
      expect(failureCalls().at(-1)!.args.text).toBe(`Bullpen run ${runId} of fails failed at step boom: boom`);
      await until('the outbox is empty', async () => (await outboxLength()) === 0);
      expect(failureCalls()).toHaveLength(before + 1);
    } finally {
      await monitor.close();
    }
  });
});
