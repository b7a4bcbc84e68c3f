/**
 * The dashboard over HTTP on a real Redis and real workers: who may see and
 * do what (exact 401 and 403 answers), CSRF, the pages' contents, paging,
 * actions through the CLI's code paths, and the batched run reader behind
 * the grid agreeing with RunReader.get.
 */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../cli/app.js';
import { dashboardDeps, serveDashboard, serveDevDashboard } from '../cli/commands/dashboard.js';
import { loadDashboardSettings } from '../common/dashboard-config.js';
import { DashboardConfigError, parseTokens } from '../dashboard/auth.js';
import { startDashboard, type Dashboard } from '../dashboard/server.js';
import { definePipeline, task } from '../flows/index.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { Recorder } from './helpers/recorder.js';
import { flakyTask } from './helpers/steps.js';

const VIEWER = 'viewer-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';

const a = task('extract', { run: () => ({ rows: 3 }) });
const b = task('report', { dependsOn: [a], run: (ctx) => ({ said: `${String(ctx.params.who)}:${ctx.deps.extract.rows}` }) });
const hello = definePipeline({
  id: 'hello',
  description: 'says hello to <b>someone</b>',
  owner: 'ml-platform',
  params: { who: { type: 'string', default: 'world' }, times: { type: 'int', default: 1 } },
  schedule: { cron: '0 6 * * 1', tz: 'Europe/Berlin' },
  steps: [a, b],
});
const boom = task('boom', { run: () => { throw new Error('upstream table missing'); } });
const after = task('after', { dependsOn: [boom], run: () => 1 });
const broken = definePipeline({ id: 'broken', steps: [boom, after] });
const flaky = definePipeline({ id: 'flaky', steps: [flakyTask('wobbly', 1)] });
const rec = new Recorder();
const hang = task('hang', {
  run: async (ctx) => {
    rec.record(ctx.runId, 'hang', 'start');
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    throw new Error('aborted');
  },
});
const hung = definePipeline({ id: 'hung', maxActiveRuns: 2, steps: [hang, task('then', { dependsOn: [hang], run: () => 1 })] });
const PIPELINES = [hello, broken, flaky, hung];

let engine: TestEngine;
let deps: ReturnType<typeof dashboardDeps>;
let dash: Dashboard;
beforeAll(async () => {
  engine = await createEngine({ label: 'dash-http', pipelines: PIPELINES });
  deps = dashboardDeps({ ...engine, pipelines: PIPELINES, config: { prefix: engine.prefix, redisUrl: engine.url } });
  dash = await startDashboard({ deps, credentials: parseTokens(`viewer:${VIEWER},operator:${OPERATOR}`), port: 0 });
  await engine.worker({ concurrency: 4 });
});
afterAll(async () => {
  await dash?.close();
  await deps?.close();
  await engine?.close();
});

const basic = (token: string, user = 'alice'): string => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
const get = (path: string, auth?: string): Promise<Response> => fetch(`${dash.url}${path}`, { headers: auth ? { authorization: auth } : {}, redirect: 'manual' });
const post = (path: string, auth: string | undefined, form: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${dash.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}), ...headers },
    body: new URLSearchParams(form).toString(),
  });
const csrfOf = async (res: Response): Promise<string> => {
  const m = /name="_csrf" value="([^"]+)"/.exec(await res.text());
  if (!m) throw new Error('no CSRF token in the page');
  return m[1]!;
};

describe('authentication', () => {
  const routes = ['/', '/pipelines/hello', '/runs/hello.x', '/runs/hello.x/live', '/api/runs/hello.x', '/metrics', '/queues', '/queues/api/queues', '/nowhere'];
  it('answers 401 with a Basic challenge to every route without valid credentials; /healthz is open', async () => {
    for (const path of routes) {
      for (const auth of [undefined, basic('wrong-token-0123456789'), `Bearer ${VIEWER}x`, `Bearer`, 'Digest abc']) {
        const res = await get(path, auth);
        expect(res.status, `${path} with ${auth ?? 'nothing'}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      }
    }
    expect((await post('/pipelines/hello/trigger', undefined)).status).toBe(401);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('lets viewers read every page, with no action forms and no secret in them', async () => {
    for (const auth of [basic(VIEWER), `Bearer ${VIEWER}`]) {
      for (const path of ['/', '/pipelines/hello', '/metrics']) {
        const res = await get(path, auth);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
        const text = await res.text();
        expect(text).not.toContain(VIEWER);
        expect(text).not.toContain(OPERATOR);
        expect(text).not.toContain('_csrf');
      }
      expect((await get('/queues', auth)).status).toBe(200);
    }
  });

  it('refuses viewers every action and every Bull Board write with 403', async () => {
    const res = await get('/pipelines/hello', basic(OPERATOR));
    const csrf = await csrfOf(res);
    for (const path of ['/pipelines/hello/trigger', '/pipelines/hello/pause', '/pipelines/hello/resume', '/runs/hello.x/retry', '/runs/hello.x/cancel']) {
      expect((await post(path, basic(VIEWER), { _csrf: csrf })).status, path).toBe(403);
      expect((await post(path, `Bearer ${VIEWER}`)).status, path).toBe(403);
    }
    const origin = { origin: dash.url };
    expect((await fetch(`${dash.url}/queues/api/queues/runs/pause`, { method: 'PUT', headers: { authorization: basic(VIEWER), ...origin } })).status).toBe(403);
    expect((await fetch(`${dash.url}/queues/api/queues/runs/clean/completed`, { method: 'PUT', headers: { authorization: `Bearer ${VIEWER}` } })).status).toBe(403);
    expect(await deps.paused()).toEqual(new Set());
    expect(await engine.reader.list('hello')).toEqual([]);
  });

  it('needs the CSRF token for form actions with basic auth, and the same origin for Bull Board writes', async () => {
    const csrf = await csrfOf(await get('/pipelines/hello', basic(OPERATOR)));
    expect((await post('/pipelines/hello/pause', basic(OPERATOR))).status).toBe(403);
    expect((await post('/pipelines/hello/pause', basic(OPERATOR), { _csrf: `${csrf.slice(1)}x` })).status).toBe(403);
    expect((await post('/pipelines/hello/pause', basic(VIEWER), { _csrf: csrf })).status).toBe(403);
    expect(await deps.paused()).toEqual(new Set());
    const put = (headers: Record<string, string>) => fetch(`${dash.url}/queues/api/queues/ticks/pause`, { method: 'PUT', headers: { authorization: basic(OPERATOR), ...headers } });
    expect((await put({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await put({})).status).toBe(403);
    expect((await put({ origin: dash.url })).status).toBe(200);
    expect((await fetch(`${dash.url}/queues/api/queues/ticks/resume`, { method: 'PUT', headers: { authorization: `Bearer ${OPERATOR}` } })).status).toBe(200);

    const ok = await post('/pipelines/hello/pause', basic(OPERATOR), { _csrf: csrf });
    expect(ok.status).toBe(303);
    expect(await deps.paused()).toEqual(new Set(['hello']));
    const page = await (await get('/', basic(OPERATOR))).text();
    expect(page).toMatch(/data-pipeline="hello"[\s\S]*?<td class="paused"><b>paused<\/b>/);
    expect((await post('/pipelines/hello/resume', `Bearer ${OPERATOR}`)).status).toBe(303); // a bearer header is never sent by a browser on its own
    expect(await deps.paused()).toEqual(new Set());
  });

  it('will not start without credentials, except in dev mode on a loopback address', async () => {
    await expect(startDashboard({ deps, credentials: [], port: 0 })).rejects.toThrow(DashboardConfigError);
    await expect(startDashboard({ deps, credentials: [], dev: true, host: '0.0.0.0', port: 0 })).rejects.toThrow(/BULLPEN_DASHBOARD_TOKENS/);
    expect(() => parseTokens('admin:0123456789abcdef0')).toThrow('BULLPEN_DASHBOARD_TOKENS: entry 1 must be viewer:<token> or operator:<token>');
    expect(() => parseTokens('viewer:short')).toThrow('BULLPEN_DASHBOARD_TOKENS: entry 1 (viewer): the token must be at least 16 characters');
    const open = await startDashboard({ deps, credentials: [], dev: true, port: 0 });
    try {
      const res = await fetch(`${open.url}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('operator (dev, no auth)');
      const rebound = await new Promise<number>((resolve, reject) =>
        request(`${open.url}/`, { headers: { host: `evil.example:${open.port}` } }, (r) => (r.resume(), resolve(r.statusCode ?? 0))).on('error', reject).end(),
      );
      expect(rebound).toBe(403);
    } finally {
      await open.close();
    }
  });
});

describe('wiring from the environment', () => {
  const app = () => ({ ...engine, pipelines: PIPELINES, config: { prefix: engine.prefix, redisUrl: engine.url } });
  const withEnv = async (env: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    try {
      await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  };

  it('reads port, host and tokens; a bad one is a UsageError naming the variable, never echoing a token', async () => {
    expect(loadDashboardSettings({})).toEqual({ port: 3000, host: '127.0.0.1', tokens: undefined });
    expect(() => loadDashboardSettings({ BULLPEN_DASHBOARD_PORT: 'http' })).toThrow('invalid dashboard configuration:\n  BULLPEN_DASHBOARD_PORT="http": expected a port number (0-65535)');
    await withEnv({ BULLPEN_DASHBOARD_PORT: '0', BULLPEN_DASHBOARD_TOKENS: 'operator:short-secret' }, async () => {
      const err = (await serveDashboard(app()).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(UsageError);
      expect(err.message).toBe('BULLPEN_DASHBOARD_TOKENS: entry 1 (operator): the token must be at least 16 characters');
      expect(err.message).not.toContain('short-secret');
    });
    await withEnv({ BULLPEN_DASHBOARD_PORT: '0', BULLPEN_DASHBOARD_TOKENS: undefined }, async () => {
      await expect(serveDashboard(app())).rejects.toThrow(UsageError);
    });
  });

  it('in dev, opens without tokens on loopback, and a taken port is a warning', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = String((blocker.address() as { port: number }).port);
    const warn = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await withEnv({ BULLPEN_DASHBOARD_PORT: taken, BULLPEN_DASHBOARD_TOKENS: undefined, BULLPEN_DASHBOARD_HOST: undefined }, async () => {
        expect(await serveDevDashboard(app())).toBeUndefined();
        expect(warn).toHaveBeenCalledWith(`warning: dev: port ${taken} is taken: no dashboard (set BULLPEN_DASHBOARD_PORT)`);
      });
      await withEnv({ BULLPEN_DASHBOARD_PORT: '0', BULLPEN_DASHBOARD_TOKENS: undefined, BULLPEN_DASHBOARD_HOST: undefined }, async () => {
        const d = (await serveDevDashboard(app()))!;
        try {
          expect((await fetch(`${d.url}/pipelines/hello`)).status).toBe(200);
        } finally {
          await d.close();
        }
      });
    } finally {
      warn.mockRestore();
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

describe('pages and actions', () => {
  it('triggers a run with params from the form (as `bullpen run -p`), and shows it on every page', async () => {
    const csrf = await csrfOf(await get('/pipelines/hello', basic(OPERATOR)));
    const res = await post('/pipelines/hello/trigger', basic(OPERATOR), { _csrf: csrf, 'param.who': 'dashboard', 'param.times': '' });
    expect(res.status).toBe(303);
    const runId = decodeURIComponent(/^\/runs\/([^?]+)\?flash=run%20started$/.exec(res.headers.get('location') ?? '')?.[1] ?? '');
    const run = await engine.watcher.wait(runId, 20_000);
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'dashboard', params: { who: 'dashboard', times: 1 } });

    const runPage = await (await get(`/runs/${encodeURIComponent(runId)}`, basic(VIEWER))).text();
    expect(runPage).toContain('data-status="succeeded" data-finished="true"');
    expect(runPage).toMatch(/<g class="node" data-step="report" data-status="succeeded">/);
    expect(runPage).toContain('{&quot;said&quot;:&quot;dashboard:3&quot;}');

    const home = await (await get('/', basic(VIEWER))).text();
    expect(home).toContain('says hello to &lt;b&gt;someone&lt;/b&gt;');
    expect(home).toContain('ml-platform');
    expect(home).toContain('At 06:00, only on Monday (Europe/Berlin)');
    expect(home).toContain(`title="${runId}: succeeded"`);

    const bad = await post('/pipelines/hello/trigger', basic(OPERATOR), { _csrf: csrf, 'param.times': 'many' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/times/);

    // a key and a logical date, as `bullpen run --key --logical-date`: the same key never makes a second run
    const keyed = { _csrf: csrf, key: 'from-form', logicalDate: '2026-11-30T06:00:00Z' };
    const first = await post('/pipelines/hello/trigger', basic(OPERATOR), keyed);
    expect(first.headers.get('location')).toBe('/runs/hello.from-form?flash=run%20started');
    expect((await engine.watcher.wait('hello.from-form', 20_000)).logicalTime).toBe('2026-11-30T06:00:00.000Z');
    const again = await post('/pipelines/hello/trigger', basic(OPERATOR), keyed);
    expect(again.headers.get('location')).toBe(`/runs/hello.from-form?flash=${encodeURIComponent('a run with this key already exists')}`);
    const badDate = await post('/pipelines/hello/trigger', basic(OPERATOR), { _csrf: csrf, logicalDate: 'next monday' });
    expect(badDate.status).toBe(400);
    expect(await badDate.text()).toContain('logical date next monday: not a date');
    const api = await get(`/api/runs/${encodeURIComponent(runId)}`, `Bearer ${VIEWER}`);
    expect(await api.json()).toMatchObject({ runId, status: 'succeeded' });
  });

  it('retries a failed run from its failed step and refuses to cancel a finished one', async () => {
    const failed = await engine.runToEnd('broken');
    expect(failed.status).toBe('failed');
    const csrf = await csrfOf(await get(`/runs/${encodeURIComponent(failed.runId)}`, basic(OPERATOR)));
    const page = await (await get(`/runs/${encodeURIComponent(failed.runId)}`, basic(OPERATOR))).text();
    expect(page).toContain('upstream table missing');
    expect(page).toContain('Retry from failed step');
    const cancel = await post(`/runs/${encodeURIComponent(failed.runId)}/cancel`, basic(OPERATOR), { _csrf: csrf });
    expect(cancel.status).toBe(400);
    expect(await cancel.text()).toContain('already ended (failed): nothing to cancel');
    const retry = await post(`/runs/${encodeURIComponent(failed.runId)}/retry`, basic(OPERATOR), { _csrf: csrf });
    expect(retry.status).toBe(303);
    expect(retry.headers.get('location')).toContain('attempt%202');
    expect((await engine.watcher.wait(failed.runId, 20_000)).attempt).toBe(2);
  });

  it('pages a long run history, newest first', async () => {
    for (let i = 0; i < 4; i++) await engine.runs.start('broken', { key: `page-${i}` });
    const all = await engine.reader.list('broken', 100);
    const deps2 = await deps.listRuns('broken', 0, 100);
    expect(deps2.runs.map((r) => r.runId)).toEqual(all);
    const small = await startDashboard({ deps, credentials: parseTokens(`viewer:${VIEWER}`), port: 0, pageSize: 2 });
    try {
      const p2 = await (await fetch(`${small.url}/pipelines/broken?page=2`, { headers: { authorization: `Bearer ${VIEWER}` } })).text();
      expect(p2).toContain(`page 2 of ${Math.ceil(all.length / 2)} (${all.length} runs)`);
      const shown = [...p2.matchAll(/<tr><td><a href="\/runs\/([^"]+)">/g)].map((m) => decodeURIComponent(m[1]!));
      expect(shown).toEqual(all.slice(2, 4));
    } finally {
      await small.close();
    }
  });
});

describe('RunReader.summaries', () => {
  it('agrees with RunReader.get on status, attempts and durations: succeeded, failed, retried, running, cancelled, unknown', async () => {
    const ok = await engine.runToEnd('hello');
    const failed = await engine.runToEnd('broken');
    const retried = await engine.runToEnd('flaky');
    const { runId: running } = await engine.runs.start('hung');
    await rec.waitFor((e) => e.runId === running && e.what === 'start');
    const { runId: cancelled } = await engine.runs.start('hung');
    await rec.waitFor((e) => e.runId === cancelled && e.what === 'start');
    await engine.control.cancel(cancelled);
    await engine.watcher.wait(cancelled, 20_000);
    const ids = [ok.runId, failed.runId, retried.runId, running, cancelled, 'hello.nope'];
    const summaries = await engine.reader.summaries(ids);
    expect(summaries[5]).toBeUndefined();
    expect(summaries.slice(0, 5).map((r) => r?.status)).toEqual(['succeeded', 'failed', 'succeeded', 'running', 'cancelled']);
    expect(summaries[2]!.steps).toEqual([expect.objectContaining({ id: 'wobbly', attempts: 2 })]);
    for (const [i, s] of summaries.slice(0, 5).entries()) {
      const full = (await engine.reader.get(ids[i]!))!;
      expect(s).toMatchObject({ runId: full.runId, status: full.status, attempt: full.attempt });
      expect(s!.finishedAt).toBe(full.finishedAt);
      expect(s!.steps).toEqual(full.steps.map((x) => ({ id: x.id, status: x.status, attempts: x.attempts, ...(x.durationMs !== undefined ? { durationMs: x.durationMs } : {}) })));
    }
    expect(summaries[1]!.steps.map((x) => x.status)).toEqual(['failed', 'skipped']);
    const light = await engine.reader.summaries(ids, { steps: false });
    expect(light.map((r) => r && { status: r.status, steps: r.steps })).toEqual(
      ['succeeded', 'failed', 'succeeded', 'running', 'cancelled'].map((status) => ({ status, steps: [] })).concat([undefined as never]),
    );
    await engine.control.cancel(running);
    await engine.watcher.wait(running, 20_000);
  });
});
