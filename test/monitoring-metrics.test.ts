/**
 * Metrics: counters and histograms derived from job events into Redis are
 * counted once with two monitor replicas and survive a restart (runs that end
 * while no monitor runs are counted when one starts); scrape-time gauges read
 * Redis; labels never hold run or job ids; `promtool check metrics` finds no
 * problem; the HTTP endpoint serves /metrics and /healthz.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNS_QUEUE } from '../common/names.js';
import { definePipeline, nextTicks, task } from '../flows/index.js';
import type { Monitor } from '../monitoring/monitor.js';
import { serveMetrics } from '../monitoring/monitor.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { eventIdOf, startTestMonitor } from './helpers/monitoring.js';
import { parseSamples, sampleValue, type Sample } from './helpers/prom-text.js';
import { Recorder } from './helpers/recorder.js';
import { flakyTask } from './helpers/steps.js';

const run = promisify(execFile);
const rec = new Recorder();
const flaky = definePipeline({
  id: 'flaky',
  schedule: { cron: '30 6 * * *', tz: 'Europe/Berlin' },
  steps: [
    flakyTask('wobbly'),
  ],
});
const bad = task('bad', { retries: 1, backoff: { type: 'fixed', delayMs: 10 }, run: () => Promise.reject(new Error('nope')) });
const breaks = definePipeline({ id: 'breaks', alerts: { expectedIntervalMs: 3_600_000 }, steps: [bad, task('after', { dependsOn: [bad], run: () => 1 })] });
const held = definePipeline({
  id: 'held',
  steps: [
    task('wait', {
      run: async (ctx) => {
        rec.record(ctx.runId, 'wait', 'start');
        await rec.latch(ctx.runId);
      },
    }),
  ],
});
const pipelines = [flaky, breaks, held];

let engine: TestEngine;
const monitors: Monitor[] = [];
const scrape = async (m: Monitor = monitors[0]!): Promise<Sample[]> => parseSamples(await m.metrics.registry.metrics());

/** Waits until every replica's tally has applied a run's final event and the events of its steps. */
async function tallied(runId: string, event: 'completed' | 'failed', steps: { id: string; event: 'completed' | 'failed' }[]): Promise<void> {
  const ids = await Promise.all([
    eventIdOf(engine.connection, engine.prefix, RUNS_QUEUE, event, runId).then((id) => [RUNS_QUEUE, id] as const),
    ...steps.map(async (s) => ['step.task@cpu', await eventIdOf(engine.connection, engine.prefix, 'step.task@cpu', s.event, `${runId}.${s.id}`)] as const),
  ]);
  await Promise.all(monitors.flatMap((m) => ids.map(([q, id]) => m.tally.through(q, id))));
}

beforeAll(async () => {
  engine = await createEngine({ label: 'metrics', pipelines });
  for (let i = 0; i < 2; i++) monitors.push(await startTestMonitor(engine, pipelines, {}));
  await engine.worker({ concurrency: 4 });
});
afterAll(async () => {
  await Promise.all(monitors.map((m) => m.close()));
  await engine.close();
});

describe('metrics', () => {
  it('counts runs, step attempts and durations once with two replicas', async () => {
    const ok = await engine.runToEnd('flaky');
    const failed = await engine.runToEnd('breaks');
    expect([ok.status, failed.status]).toEqual(['succeeded', 'failed']);
    await tallied(ok.runId, 'completed', [{ id: 'wobbly', event: 'completed' }]);
    await tallied(failed.runId, 'failed', [{ id: 'bad', event: 'failed' }]);
    for (const m of monitors) {
      const s = await scrape(m);
      expect(sampleValue(s, 'bullpen_runs_total', { pipeline: 'flaky', status: 'succeeded' })).toBe(1);
      expect(sampleValue(s, 'bullpen_runs_total', { pipeline: 'flaky', status: 'failed' })).toBe(0);
      expect(sampleValue(s, 'bullpen_runs_total', { pipeline: 'breaks', status: 'failed' })).toBe(1);
      expect(sampleValue(s, 'bullpen_step_attempts_total', { pipeline: 'flaky', step: 'wobbly', outcome: 'succeeded' })).toBe(1);
      expect(sampleValue(s, 'bullpen_step_attempts_total', { pipeline: 'flaky', step: 'wobbly', outcome: 'retried' })).toBe(2);
      expect(sampleValue(s, 'bullpen_step_attempts_total', { pipeline: 'breaks', step: 'bad', outcome: 'failed' })).toBe(1);
      expect(sampleValue(s, 'bullpen_step_attempts_total', { pipeline: 'breaks', step: 'bad', outcome: 'retried' })).toBe(1);
      // the skipped dependent is not a step failure
      expect(sampleValue(s, 'bullpen_step_attempts_total', { pipeline: 'breaks', step: 'after', outcome: 'failed' })).toBe(0);
      expect(sampleValue(s, 'bullpen_step_duration_seconds_count', { pipeline: 'flaky', step: 'wobbly', status: 'succeeded' })).toBe(1);
      expect(sampleValue(s, 'bullpen_step_duration_seconds_bucket', { pipeline: 'breaks', step: 'bad', status: 'failed', le: '+Inf' })).toBe(1);
      expect(sampleValue(s, 'bullpen_run_duration_seconds_count', { pipeline: 'flaky' })).toBe(1);
      expect(sampleValue(s, 'bullpen_run_duration_seconds_sum', { pipeline: 'flaky' })).toBeCloseTo((ok.finishedAt! - ok.createdAt) / 1000, 1);
      expect(sampleValue(s, 'bullpen_pipeline_last_success_timestamp_seconds', { pipeline: 'flaky' })).toBe(ok.finishedAt! / 1000);
      expect(sampleValue(s, 'bullpen_pipeline_last_success_timestamp_seconds', { pipeline: 'breaks' })).toBeUndefined();
      // bounded labels: no run or job id anywhere
      expect(s.filter((x) => Object.values(x.labels).some((v) => v.includes(ok.runId) || v.includes(failed.runId)))).toEqual([]);
    }
  });

  it('a restart loses nothing: runs that end while no monitor runs are counted when one starts', async () => {
    await Promise.all(monitors.splice(0).map((m) => m.close()));
    const r1 = await engine.runToEnd('flaky');
    const r2 = await engine.runToEnd('flaky');
    for (let i = 0; i < 2; i++) monitors.push(await startTestMonitor(engine, pipelines, {}));
    await tallied(r2.runId, 'completed', [{ id: 'wobbly', event: 'completed' }]);
    await tallied(r1.runId, 'completed', [{ id: 'wobbly', event: 'completed' }]);
    const s = await scrape();
    expect(sampleValue(s, 'bullpen_runs_total', { pipeline: 'flaky', status: 'succeeded' })).toBe(3);
    expect(sampleValue(s, 'bullpen_step_attempts_total', { pipeline: 'flaky', step: 'wobbly', outcome: 'retried' })).toBe(6);
    expect(sampleValue(s, 'bullpen_runs_total', { pipeline: 'breaks', status: 'failed' })).toBe(1);
  });

  it('gauges read Redis at scrape time: queue jobs, active runs, running steps, workers, schedule times', async () => {
    const { runId } = await engine.runs.start('held');
    await rec.waitFor((e) => e.runId === runId && e.what === 'start');
    let s = await scrape();
    expect(sampleValue(s, 'bullpen_runs_active', { pipeline: 'held' })).toBe(1);
    expect(sampleValue(s, 'bullpen_runs_active', { pipeline: 'flaky' })).toBe(0);
    expect(sampleValue(s, 'bullpen_queue_jobs', { queue: 'step.task@cpu', state: 'active' })).toBe(1);
    expect(sampleValue(s, 'bullpen_queue_jobs', { queue: RUNS_QUEUE, state: 'waiting-children' })).toBe(1);
    expect(sampleValue(s, 'bullpen_queue_jobs', { queue: RUNS_QUEUE, state: 'failed' })).toBe(1);
    expect(sampleValue(s, 'bullpen_step_running_seconds', { pipeline: 'held', step: 'wait' })).toBeGreaterThanOrEqual(0);
    expect(sampleValue(s, 'bullpen_workers', { pool: 'cpu' })).toBe(1);
    expect(sampleValue(s, 'bullpen_workers', { pool: 'gpu' })).toBe(0);
    const now = Date.now() / 1000;
    const next = sampleValue(s, 'bullpen_pipeline_next_run_timestamp_seconds', { pipeline: 'flaky' })!;
    expect(next).toBe(nextTicks(flaky.schedule!, new Date(Math.floor(now) * 1000))[0]!.getTime() / 1000);
    expect(sampleValue(s, 'bullpen_pipeline_next_run_timestamp_seconds', { pipeline: 'held' })).toBeUndefined();
    expect(sampleValue(s, 'bullpen_pipeline_expected_interval_seconds', { pipeline: 'flaky' })).toBe(2 * 86_400);
    expect(sampleValue(s, 'bullpen_pipeline_expected_interval_seconds', { pipeline: 'breaks' })).toBe(3_600);

    await engine.worker({ pool: 'gpu' });
    rec.open(runId);
    await engine.watcher.wait(runId, 20_000);
    s = await scrape();
    expect(sampleValue(s, 'bullpen_workers', { pool: 'gpu' })).toBe(1);
    expect(sampleValue(s, 'bullpen_runs_active', { pipeline: 'held' })).toBe(0);
    expect(sampleValue(s, 'bullpen_step_running_seconds', { pipeline: 'held', step: 'wait' })).toBeUndefined();
  });

  it('promtool check metrics finds no problem, and /metrics and /healthz answer over HTTP', async () => {
    const served = await serveMetrics({ connection: engine.connection, prefix: engine.prefix, pipelines, stepTypes: engine.registry.names(), port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${served.server.port}`;
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      expect(text).toContain('bullpen_runs_total{pipeline="flaky",status="succeeded"} 3');
      expect(text).toContain('process_cpu_seconds_total');
      expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
      for (const body of [text, await monitors[0]!.metrics.registry.metrics()]) {
        const child = run('promtool', ['check', 'metrics']);
        child.child.stdin!.end(body);
        const { stdout, stderr } = await child;
        expect(`${stdout}${stderr}`).toBe('');
      }
    } finally {
      await served.close();
    }
  });
});
