/**
 * The dashboard: one Express app with the pipeline, grid and run pages, the
 * operator actions (POST, CSRF-protected), Bull Board at `/queues`,
 * `/metrics` and `/healthz`. Every route but `/healthz` needs credentials
 * (unless opened in dev mode on a loopback address).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createAuth, isLoopback, sameOrigin, DashboardConfigError, type Credential, type Principal } from './auth.js';
import type { DashboardDeps } from './deps.js';
import { esc, page } from './html.js';
import { pipelinePage } from './pipeline-page.js';
import { pipelinesPage } from './pipelines-page.js';
import { LIVE_SCRIPT, runFragment, runPage, type RunView } from './run-page.js';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

export interface DashboardOptions {
  deps: DashboardDeps;
  credentials: readonly Credential[];
  /** Dev mode: with no credentials configured and a loopback host, no authentication. @defaultValue false */
  dev?: boolean;
  /** @defaultValue 3000 */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** Runs per grid page. @defaultValue 25 */
  pageSize?: number;
  /** Runs shown as dots per pipeline on `/`. @defaultValue 10 */
  recentRuns?: number;
  /** Log lines per step on the run page. @defaultValue 50 */
  logLines?: number;
}

export interface Dashboard {
  port: number;
  url: string;
  close(): Promise<void>;
}

function board(deps: DashboardDeps, readOnlyMode: boolean): express.Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath('/queues');
  createBullBoard({
    queues: deps.queues.map((q) => new BullMQAdapter(q, { readOnlyMode, allowRetries: !readOnlyMode })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'Bullpen queues' } },
  });
  return adapter.getRouter() as express.Router;
}

/** Builds the Express app (tests may mount it on their own server). */
export function dashboardApp(o: DashboardOptions): express.Express {
  const { deps } = o;
  const host = o.host ?? '127.0.0.1';
  const open = !o.credentials.length && !!o.dev && isLoopback(host);
  if (!o.credentials.length && !open)
    throw new DashboardConfigError('BULLPEN_DASHBOARD_TOKENS: no credentials configured (only `bullpen dev` on a loopback address runs without)');
  const auth = createAuth(o.credentials, open);
  const pageSize = o.pageSize ?? 25;
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    // nothing from elsewhere (Bull Board's page links a web font: the browser does not fetch it)
    res.setHeader('Content-Security-Policy', CSP);
    next();
  });
  app.get('/healthz', (_req, res) => void res.type('text/plain').send('ok\n'));
  app.use((req, res, next) => auth.authenticate(req, res, next));

  const who = (res: Response): Principal => res.locals.principal as Principal;
  const roleLabel = (p: Principal): string => (p.via === 'open' ? 'operator (dev, no auth)' : p.role);
  const csrfFor = (p: Principal): string | undefined => (p.role === 'operator' ? auth.csrfToken(p) : undefined);
  const wrap =
    (fn: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response, next: NextFunction): void =>
      void fn(req, res).catch(next);
  const param = (req: Request, name: string): string => String(req.params[name] ?? '');

  // Bull Board: viewers get a read-only board and no writes at all; operator writes must come from this origin
  const [readOnly, full] = [board(deps, true), board(deps, false)];
  app.use('/queues', (req, res, next) => {
    const p = who(res);
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (write && p.role !== 'operator') return void res.status(403).type('text/plain').send('forbidden: viewers cannot change queues\n');
    if (write && p.via !== 'bearer' && !sameOrigin(req)) return void res.status(403).type('text/plain').send('forbidden: cross-origin request\n');
    (p.role === 'operator' ? full : readOnly)(req, res, next);
  });

  app.get('/assets/live.js', (_req, res) => void res.type('text/javascript').setHeader('Cache-Control', 'max-age=300').send(LIVE_SCRIPT));

  app.get('/metrics', wrap(async (_req, res) => {
    if (!deps.metrics) return void res.status(404).type('text/plain').send('no metrics\n');
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  }));

  app.get('/', wrap(async (_req, res) => {
    const p = who(res);
    const [paused, recent] = await Promise.all([deps.paused(), deps.recentRuns(deps.pipelines.map((pl) => pl.id), o.recentRuns ?? 10)]);
    res.type('html').send(pipelinesPage({ pipelines: deps.pipelines, recent, paused, role: roleLabel(p), ...opt('csrf', csrfFor(p)), now: new Date() }));
  }));

  app.get('/pipelines/:id', wrap(async (req, res) => {
    const p = who(res);
    const pipeline = deps.pipelines.find((x) => x.id === param(req, 'id'));
    if (!pipeline) return notFound(res, p, `no pipeline ${param(req, 'id')}`);
    const n = Math.max(1, Math.floor(Number(req.query.page ?? 1)) || 1);
    const [{ total, runs }, paused] = await Promise.all([deps.listRuns(pipeline.id, (n - 1) * pageSize, pageSize), deps.paused()]);
    const flash = typeof req.query.flash === 'string' ? req.query.flash : undefined;
    res.type('html').send(pipelinePage({ pipeline, runs, total, page: n, pageSize, paused: paused.has(pipeline.id), role: roleLabel(p), ...opt('csrf', csrfFor(p)), ...opt('flash', flash) }));
  }));

  const runView = async (req: Request, res: Response): Promise<RunView | undefined> => {
    const p = who(res);
    const run = await deps.getRun(param(req, 'id'));
    if (!run) return undefined;
    const logs = new Map(await Promise.all(run.steps.map(async (s) => [s.id, s.status === 'pending' || s.status === 'missing' ? [] : await deps.logs(s.queue, s.jobId)] as [string, string[]])));
    const flash = typeof req.query.flash === 'string' ? req.query.flash : undefined;
    return { run, logs, role: roleLabel(p), ...opt('csrf', csrfFor(p)), ...opt('flash', flash) };
  };
  app.get('/runs/:id', wrap(async (req, res) => {
    const v = await runView(req, res);
    if (!v) return notFound(res, who(res), `no run ${param(req, 'id')}`);
    res.type('html').send(runPage(v));
  }));
  app.get('/runs/:id/live', wrap(async (req, res) => {
    const v = await runView(req, res);
    if (!v) return void res.status(404).type('text/plain').send('no such run\n');
    res.type('html').send(runFragment(v));
  }));
  app.get('/api/runs/:id', wrap(async (req, res) => {
    const run = await deps.getRun(param(req, 'id'));
    if (!run) return void res.status(404).json({ error: 'no such run' });
    res.json(run);
  }));

  // actions: operators only, form posts carrying the CSRF token (bearer callers may send it as a header)
  const operator = (req: Request, res: Response, next: NextFunction): void => {
    const p = who(res);
    if (p.role !== 'operator') return void res.status(403).type('text/plain').send('forbidden: operators only\n');
    const token = (req.body as Record<string, unknown> | undefined)?._csrf ?? req.headers['x-csrf-token'];
    if (p.via !== 'bearer' && !auth.csrfValid(p, token)) return void res.status(403).type('text/plain').send('forbidden: missing or bad CSRF token\n');
    next();
  };
  const form = express.urlencoded({ extended: false, limit: '32kb' });
  const act = (path: string, fn: (req: Request) => Promise<string>) =>
    app.post(path, form, operator, wrap(async (req, res) => {
      try {
        res.redirect(303, await fn(req));
      } catch (err) {
        if (!deps.isUserError(err)) throw err;
        res.status(400).type('html').send(page({ title: 'Not done', role: roleLabel(who(res)), body: `<div class="flash error">${esc((err as Error).message)}</div><p><a href="javascript:history.back()">back</a></p>` }));
      }
    }));
  const back = (path: string, flash: string): string => `${path}?flash=${encodeURIComponent(flash)}`;
  act('/pipelines/:id/trigger', async (req) => {
    const body = req.body as Record<string, unknown>;
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) if (k.startsWith('param.') && typeof v === 'string' && v !== '') params[k.slice(6)] = v;
    const text = (k: string): string | undefined => (typeof body[k] === 'string' && body[k] !== '' ? (body[k] as string).trim() : undefined);
    const key = text('key');
    const logicalDate = text('logicalDate');
    const { runId, created } = await deps.trigger(param(req, 'id'), params, { ...(key ? { key } : {}), ...(logicalDate ? { logicalDate } : {}) });
    return back(`/runs/${encodeURIComponent(runId)}`, created ? 'run started' : 'a run with this key already exists');
  });
  act('/pipelines/:id/pause', async (req) => (await deps.pause(param(req, 'id')), back(`/pipelines/${encodeURIComponent(param(req, 'id'))}`, 'paused')));
  act('/pipelines/:id/resume', async (req) => (await deps.resume(param(req, 'id')), back(`/pipelines/${encodeURIComponent(param(req, 'id'))}`, 'resumed')));
  act('/runs/:id/retry', async (req) => back(`/runs/${encodeURIComponent(param(req, 'id'))}`, `retry started: attempt ${(await deps.retry(param(req, 'id'))).attempt}`));
  act('/runs/:id/cancel', async (req) => (await deps.cancel(param(req, 'id')), back(`/runs/${encodeURIComponent(param(req, 'id'))}`, 'cancel requested')));

  app.use((_req, res) => notFound(res, who(res), 'not found'));
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    console.error(`[bullpen dashboard] ${err.message}`);
    res.status(500).type('text/plain').send('internal error (see the dashboard log)\n');
  });
  return app;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function notFound(res: Response, p: Principal, message: string): void {
  res.status(404).type('html').send(page({ title: 'Not found', role: p.role, body: `<h1>Not found</h1><p>${esc(message)}</p>` }));
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const app = dashboardApp(o);
  const host = o.host ?? '127.0.0.1';
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(o.port ?? 3000, host, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
