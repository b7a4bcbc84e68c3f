/**
 * The alert rules and dashboard against real Prometheus tools: `promtool
 * check rules` and `promtool test rules` pass; a real Prometheus scraping a
 * running Bullpen fires BullpenRunFailed for the pipeline that failed (and
 * for no other); every dashboard query is valid PromQL over our metrics.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, task } from '../flows/index.js';
import { serveMetrics, type Monitor } from '../monitoring/monitor.js';
import { startMetricsServer, type MetricsServer } from '../monitoring/server.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { startFakePagerDuty, type FakePagerDuty } from './helpers/fake-pagerduty.js';
import { startTestMonitor } from './helpers/monitoring.js';
import { startPrometheus, type TestPrometheus } from './helpers/prometheus.js';

const run = promisify(execFile);
const RULES = fileURLToPath(new URL('../monitoring/prometheus/alerts.yml', import.meta.url));
const RULE_TESTS = fileURLToPath(new URL('../monitoring/prometheus/alerts.test.yml', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../monitoring/grafana/bullpen-dashboard.json', import.meta.url));

const fails = definePipeline({ id: 'fails', steps: [task('boom', { run: () => Promise.reject(new Error('boom')) })] });
const fine = definePipeline({ id: 'fine', schedule: { cron: '0 6 * * *' }, steps: [task('ok', { run: () => 'ok' })] });
const pipelines = [fails, fine];

let engine: TestEngine;
let monitor: Monitor;
let served: Awaited<ReturnType<typeof serveMetrics>>;
let monitorServer: MetricsServer;
let pd: FakePagerDuty;
let prom: TestPrometheus;

/** Re-queries until `check` holds (Prometheus scrapes and evaluates every second); rejects after `timeoutMs`. */
async function eventually<T>(what: string, read: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (check(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; last: ${JSON.stringify(v)}\n${prom.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  engine = await createEngine({ label: 'prom', pipelines });
  pd = await startFakePagerDuty();
  // two scrape targets, as in production: a monitor (with an alert sink breaker) and a worker-side endpoint
  monitor = await startTestMonitor(engine, pipelines, { pagerdutyRoutingKey: 'pd-key', pagerdutyUrl: pd.url });
  monitorServer = await startMetricsServer({ registry: monitor.metrics.registry, port: 0, host: '127.0.0.1' });
  served = await serveMetrics({ connection: engine.connection, prefix: engine.prefix, pipelines, stepTypes: engine.registry.names(), port: 0, host: '127.0.0.1' });
  prom = await startPrometheus([`127.0.0.1:${served.server.port}`, `127.0.0.1:${monitorServer.port}`], [RULES]);
  await engine.worker();
});
afterAll(async () => {
  await prom?.stop();
  await served?.close();
  await monitorServer?.close();
  await monitor?.close();
  await pd?.close();
  await engine?.close();
});

describe('prometheus', () => {
  it('promtool checks the rules and passes their unit tests', async () => {
    const check = await run('promtool', ['check', 'rules', RULES]);
    expect(check.stdout).toContain('SUCCESS: 8 rules found');
    const tests = await run('promtool', ['test', 'rules', RULE_TESTS]);
    expect(tests.stdout).toContain('SUCCESS');
  });

  it('a real Prometheus scraping Bullpen fires BullpenRunFailed for the failed pipeline only', async () => {
    // both targets report both pipelines' failure counters (at 0) before anything fails
    await eventually('the zero failure counters are scraped', () => prom.query('bullpen_runs_total{status="failed"}'), (r) => r.length === 4);
    expect((await engine.runToEnd('fine')).status).toBe('succeeded');
    const failed = await engine.runToEnd('fails');
    expect(failed.status).toBe('failed');
    const alerts = await eventually(
      'BullpenRunFailed fires',
      () => prom.alerts(),
      (a) => a.some((x) => x.labels.alertname === 'BullpenRunFailed' && x.state === 'firing'),
    );
    const firedIn = Date.now() - failed.finishedAt!;
    console.log(`BullpenRunFailed firing ${firedIn} ms after the run failed (scrape and evaluation every 1 s)`);
    expect(alerts.filter((x) => x.labels.alertname === 'BullpenRunFailed').map((x) => x.labels)).toEqual([
      { alertname: 'BullpenRunFailed', pipeline: 'fails', severity: 'critical' },
    ]);
    await eventually('PagerDuty got the trigger', async () => pd.events.length, (n) => n === 1);
  });

  it('every dashboard query is valid over the exported metrics', async () => {
    const dash = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exported = new Set((await prom.query('count by (__name__) ({job="bullpen"})')).map((r) => r.metric.__name__));
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    for (const { title, expr } of exprs) {
      const concrete = expr.replaceAll('$__rate_interval', '1m').replaceAll('"$pipeline"', '".*"');
      await expect(prom.query(concrete), `${title}: ${expr}`).resolves.toBeInstanceOf(Array);
      for (const name of expr.match(/\bbullpen_[a-z_]+/g) ?? []) expect(exported, `${title} uses ${name}`).toContain(name);
    }
    const titles = dash.panels.map((p) => p.title);
    for (const t of ['Runs by status', 'Step duration (p90, succeeded)', 'Queue depth per pool (waiting steps)', 'Last success per pipeline']) expect(titles).toContain(t);
  });
});
