/**
 * The dashboard in a real browser (headless Chromium): an operator opens the
 * pipelines page, triggers a run with a param, watches the run page update
 * live to success, finds the run's jobs in Bull Board; a viewer sees no
 * actions and is refused one. Screenshots land in test-results/dashboard/.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardDeps } from '../cli/commands/dashboard.js';
import { parseTokens } from '../dashboard/auth.js';
import { startDashboard, type Dashboard } from '../dashboard/server.js';
import { definePipeline, task } from '../flows/index.js';
import { launchBrowser, screenshot } from './helpers/browser.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { Recorder } from './helpers/recorder.js';

const VIEWER = 'viewer-token-browser-0123456789';
const OPERATOR = 'operator-token-browser-0123456789';
const rec = new Recorder();

const prepare = task('prepare', { run: (ctx) => ({ rows: Number(ctx.params.rows) }) });
const train = task('train', {
  dependsOn: [prepare],
  run: async (ctx) => {
    ctx.log(`training on ${ctx.deps.prepare.rows} rows`);
    rec.record(ctx.runId, 'train', 'start');
    await rec.latch(ctx.runId); // held until the test has seen the run page show it running
    ctx.log('epoch 1: loss 0.41');
    return { loss: 0.41 };
  },
});
const evaluate = task('evaluate', { dependsOn: [prepare], run: () => ({ recall: 0.2 }) });
const publish = task('publish', { dependsOn: [train, evaluate], run: (ctx) => ({ published: ctx.deps.train.loss < 1 && ctx.deps.evaluate.recall > 0.1 }) });
const live = definePipeline({
  id: 'weekly-model',
  description: 'retrain every Monday',
  owner: 'ml-platform',
  params: { rows: { type: 'int', default: 100 } },
  schedule: { cron: '0 6 * * 1', tz: 'Europe/Berlin' },
  steps: [prepare, train, evaluate, publish],
});
const other = definePipeline({ id: 'nightly-features', description: 'features for tomorrow', owner: 'data', schedule: { cron: '30 2 * * *' }, steps: [task('build', { run: () => 1 })] });

let engine: TestEngine;
let deps: ReturnType<typeof dashboardDeps>;
let dash: Dashboard;
let browser: Browser;
const contexts: BrowserContext[] = [];
beforeAll(async () => {
  engine = await createEngine({ label: 'dash-browser', pipelines: [live, other] });
  deps = dashboardDeps({ ...engine, pipelines: [live, other], config: { prefix: engine.prefix, redisUrl: engine.url } });
  dash = await startDashboard({ deps, credentials: parseTokens(`viewer:${VIEWER},operator:${OPERATOR}`), port: 0 });
  await engine.worker({ concurrency: 4 });
  await engine.runToEnd('nightly-features');
  browser = await launchBrowser();
});
afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await dash?.close();
  await deps?.close();
  await engine?.close();
});

const as = async (user: string, token: string): Promise<BrowserContext> => {
  const c = await browser.newContext({ httpCredentials: { username: user, password: token }, viewport: { width: 1280, height: 800 } });
  contexts.push(c);
  return c;
};

describe('dashboard in a browser', () => {
  it('an operator triggers a run, watches it live to success, and finds its jobs in Bull Board', async () => {
    const page = await (await as('olivia', OPERATOR)).newPage();
    // what the pages load from elsewhere (Bull Board's page links a web font): the CSP must stop it before it leaves
    const local = (url: string): boolean => url.startsWith(`${dash.url}/`) || url.startsWith('data:');
    const elsewhere: string[] = [];
    page.on('requestfinished', (r) => void (local(r.url()) || elsewhere.push(`loaded ${r.url()}`)));
    page.on('requestfailed', (r) => void (local(r.url()) || /^(csp|net::ERR_BLOCKED_BY_CSP)$/.test(r.failure()?.errorText ?? '') || elsewhere.push(`${r.failure()?.errorText} ${r.url()}`)));
    await page.goto(`${dash.url}/`);
    const row = page.locator('tr[data-pipeline="weekly-model"]');
    await row.getByText('At 06:00, only on Monday (Europe/Berlin)').waitFor();
    await page.locator('tr[data-pipeline="nightly-features"] .dot[data-status="succeeded"]').waitFor();
    await screenshot(page, 'pipelines');

    await row.getByRole('link', { name: 'weekly-model' }).click();
    await page.locator('input[name="param.rows"]').fill('7');
    await page.getByRole('button', { name: 'Trigger run' }).click();
    await page.waitForURL(/\/runs\/weekly-model\.[^/?]+\?flash=run%20started$/);
    const runId = decodeURIComponent(/\/runs\/([^?]+)/.exec(page.url())![1]!);

    await page.locator('#live[data-status="running"] g.node[data-step="train"][data-status="running"]').waitFor();
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 1)); // survives only without a reload
    await screenshot(page, 'run-running');
    rec.open(runId);
    await page.locator('#live[data-status="succeeded"][data-finished="true"]').waitFor({ timeout: 20_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(1);
    expect(await page.locator('g.node[data-status="succeeded"]').count()).toBe(4);
    await page.locator('tr[data-step="train"] details summary').click();
    await page.locator('tr[data-step="train"] pre.log').getByText('training on 7 rows').waitFor();
    await screenshot(page, 'run-succeeded');

    await page.goto(`${dash.url}/queues/queue/runs?status=completed`);
    await page.getByText(runId, { exact: false }).first().waitFor();
    await page.goto(`${dash.url}/queues/queue/${encodeURIComponent('step.task@cpu')}?status=completed`);
    await page.getByText(`${runId}.publish`, { exact: false }).first().waitFor();
    await screenshot(page, 'bull-board');

    expect(elsewhere).toEqual([]); // nothing from the internet, Bull Board included

    await page.goto(`${dash.url}/pipelines/weekly-model`);
    await page.locator(`table.grid th.cell a[href="/runs/${encodeURIComponent(runId)}"] .dot[data-status="succeeded"]`).waitFor();
    await screenshot(page, 'pipeline-grid');
  });

  it('a viewer sees the pages but no action, and a forged action is refused', async () => {
    const ctx = await as('victor', VIEWER);
    const page = await ctx.newPage();
    await page.goto(`${dash.url}/pipelines/weekly-model`);
    await page.getByRole('heading', { name: 'weekly-model' }).waitFor();
    await page.getByText('viewer', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Trigger run' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'pause' }).count()).toBe(0);
    const before = await engine.reader.list('weekly-model', 100);
    const res = await page.request.post(`${dash.url}/pipelines/weekly-model/trigger`, { form: { 'param.rows': '1' }, maxRedirects: 0 });
    expect(res.status()).toBe(403);
    expect(await engine.reader.list('weekly-model', 100)).toEqual(before);
  });
});
