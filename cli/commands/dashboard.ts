/**
 * `bullpen dashboard` (and the dashboard inside `bullpen dev`): wires the
 * dashboard to this process's reader, run creator and run control, the same
 * code paths as the CLI's run, retry, cancel, pause and resume.
 */
import { Queue } from 'bullmq';
import type { Command } from 'commander';
import { loadDashboardSettings } from '../../common/dashboard-config.js';
import { ADMISSION_QUEUE, GATES_QUEUE, RUNS_QUEUE, TICKS_QUEUE, runIndexKey } from '../../common/names.js';
import { DashboardConfigError, parseTokens } from '../../dashboard/auth.js';
import type { DashboardDeps } from '../../dashboard/deps.js';
import { startDashboard, type Dashboard } from '../../dashboard/server.js';
import { RunRequestError } from '../../flows/index.js';
import { createMetrics } from '../../monitoring/metrics.js';
import { stepQueuesOf } from '../../monitoring/monitor.js';
import { openApp, UsageError, type App } from '../app.js';
import { parseDate } from '../dates.js';
import { stopSignal } from '../signals.js';

/** What the dashboard uses of an App (tests pass their engine's objects). */
export type DashboardApp = Pick<App, 'pipelines' | 'registry' | 'connection' | 'runs' | 'reader' | 'control'> & { config: Pick<App['config'], 'prefix' | 'redisUrl'> };

/** The dashboard's view of an App; `close` closes the queues it opened for Bull Board. */
export function dashboardDeps(app: DashboardApp): DashboardDeps & { close(): Promise<void> } {
  const { connection, config } = app;
  const queueNames = [RUNS_QUEUE, GATES_QUEUE, ADMISSION_QUEUE, TICKS_QUEUE, ...stepQueuesOf(app.registry.names())];
  const queues = queueNames.map((n) => new Queue(n, { connection, prefix: config.prefix }));
  const metrics = createMetrics({ connection, prefix: config.prefix, pipelines: app.pipelines, stepQueues: stepQueuesOf(app.registry.names()), processMetrics: false });
  return {
    pipelines: app.pipelines,
    async listRuns(pipeline, offset, limit) {
      const key = runIndexKey(config.prefix, pipeline);
      const [total, ids] = await Promise.all([connection.zcard(key), connection.zrevrange(key, offset, offset + limit - 1)]);
      const runs = await app.reader.summaries(ids);
      return { total, runs: runs.filter((r) => r !== undefined) };
    },
    async recentRuns(pipelines, limit) {
      const lists = await connection.pipeline(pipelines.map((id) => ['zrevrange', runIndexKey(config.prefix, id), 0, limit - 1])).exec();
      const ids = (lists ?? []).map(([err, v]) => {
        if (err) throw err;
        return v as string[];
      });
      const runs = await app.reader.summaries(ids.flat(), { steps: false });
      let at = 0;
      return new Map(pipelines.map((id, i) => [id, runs.slice(at, (at += ids[i]!.length)).filter((r) => r !== undefined)]));
    },
    getRun: (runId) => app.reader.get(runId),
    logs: (queue, jobId) => app.reader.logs(queue, jobId, 50),
    trigger: (pipeline, params, opts = {}) =>
      app.runs.start(pipeline, {
        params,
        trigger: 'dashboard',
        ...(opts.key ? { key: opts.key } : {}),
        ...(opts.logicalDate ? { logicalTime: parseDate('logical date', opts.logicalDate) } : {}),
      }),
    retry: (runId) => app.control.retry(runId),
    cancel: (runId) => app.control.cancel(runId),
    pause: (id) => app.control.pause(id),
    // as `bullpen resume`: ticks missed while paused follow the pipeline's catchup
    resume: async (id) => (await app.control.resume(id)).ticks,
    paused: () => app.control.paused(),
    queues,
    metrics: metrics.registry,
    isUserError: (err) => err instanceof RunRequestError || err instanceof UsageError,
    close: async () => {
      await metrics.close();
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}

/**
 * Starts the dashboard for an App. `dev`: with no tokens configured and a
 * loopback host, it runs without authentication. A bad setting is a UsageError.
 */
export async function serveDashboard(app: DashboardApp, opts: { dev?: boolean; port?: number; host?: string } = {}): Promise<Dashboard> {
  const s = loadDashboardSettings();
  const deps = dashboardDeps(app);
  try {
    const dashboard = await startDashboard({
      deps,
      credentials: parseTokens(s.tokens),
      dev: opts.dev ?? false,
      port: opts.port ?? s.port,
      host: opts.host ?? s.host,
    });
    return { ...dashboard, close: async () => (await dashboard.close(), await deps.close()) };
  } catch (err) {
    await deps.close();
    if (err instanceof DashboardConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * The dashboard inside `bullpen dev`: without tokens it is open on a loopback
 * host; a port that is taken is reported and dev goes on without it.
 */
export async function serveDevDashboard(app: DashboardApp): Promise<Dashboard | undefined> {
  try {
    return await serveDashboard(app, { dev: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    console.error(`warning: dev: port ${loadDashboardSettings().port} is taken: no dashboard (set BULLPEN_DASHBOARD_PORT)`);
    return undefined;
  }
}

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('web dashboard: pipelines, run grid, runs with their DAG and logs, actions, Bull Board at /queues')
    .option('--port <n>', 'port (default BULLPEN_DASHBOARD_PORT or 3000; 0: any free port)')
    .option('--host <addr>', 'address to bind (default BULLPEN_DASHBOARD_HOST or 127.0.0.1)')
    .action(async (o: { port?: string; host?: string }) => {
      const stopped = stopSignal();
      const port = o.port === undefined ? undefined : Number(o.port);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError(`--port ${o.port}: expected a port number`);
      const app = await openApp();
      try {
        const dashboard = await serveDashboard(app, { ...(port !== undefined ? { port } : {}), ...(o.host ? { host: o.host } : {}) });
        console.log(`dashboard ready: ${dashboard.url}`);
        await stopped;
        await dashboard.close();
      } finally {
        await app.close();
      }
    });
}
