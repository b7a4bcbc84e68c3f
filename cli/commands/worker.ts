/** `bullpen worker` and `bullpen dev`: run step workers (and, for dev, a first run). */
import type { Command } from 'commander';
import { POOLS, type Pool } from '../../common/names.js';
import type { RunState } from '../../producer/state.js';
import { startWorkerPool, type WorkerPool } from '../../workers/worker.js';
import { openApp, UsageError, type App } from '../app.js';
import { duration } from '../format.js';
import { loadBackendConfig } from '../../common/backend-config.js';
import { stepTypeName } from '../../flows/index.js';
import { redactUrl } from '../../common/redis.js';
import { describeOutputs } from '../../workers/backends/index.js';
import { observe } from '../observe.js';
import { stopSignal } from '../signals.js';
import { serveDevDashboard } from './dashboard.js';
import { checkPrerequisites, formatChecks } from './doctor.js';
import { renderRun } from './runs.js';
import { startScheduler } from './schedule.js';

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} ${v}: expected a whole number ≥ 1`);
    return n;
  };
}

function startPool(app: App, pool: Pool, o: { steps?: string[]; concurrency?: number; maxJobs?: number }): WorkerPool {
  return startWorkerPool({
    redisUrl: app.config.redisUrl,
    connection: app.connection,
    prefix: app.config.prefix,
    registry: app.registry,
    pool,
    ...(o.steps ? { steps: o.steps } : {}),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.maxJobs ? { maxJobs: o.maxJobs } : {}),
    lockDurationMs: app.config.lockDurationMs,
    stalledIntervalMs: app.config.stalledIntervalMs,
  });
}

/** Closes on the stop signal, or when `done` resolves. */
async function runUntilStopped(
  app: App,
  pools: WorkerPool[],
  stopped: Promise<string>,
  done?: Promise<unknown>,
  before?: () => Promise<void>,
): Promise<void> {
  const why = await Promise.race([stopped, done?.then(() => 'done') ?? new Promise<string>(() => undefined)]);
  console.log(`worker stopping (${why}): finishing active steps (grace ${app.config.shutdownGraceMs} ms)`);
  await before?.();
  await Promise.all(pools.map((p) => p.close(app.config.shutdownGraceMs)));
  await app.close();
  console.log('worker stopped');
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('process steps from the queues of one pool')
    .option('--pool <pool>', 'cpu or gpu: a gpu worker takes only GPU steps, a cpu worker never does', 'cpu')
    .option('--steps <types>', 'comma-separated step types to take (default: all registered)')
    .option('--concurrency <n>', 'concurrent steps per step queue', positiveInt('--concurrency'), 4)
    .option('--max-jobs <n>', 'exit after this many steps (for Kubernetes Jobs)', positiveInt('--max-jobs'))
    .action(async (o: { pool: string; steps?: string; concurrency: number; maxJobs?: number }) => {
      const stopped = stopSignal();
      if (!POOLS.includes(o.pool as Pool)) throw new UsageError(`--pool ${o.pool}: expected cpu or gpu`);
      const app = await openApp();
      const steps = o.steps?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = (steps ?? []).filter((s) => !app.registry.get(s));
      if (unknown.length) {
        await app.close();
        throw new UsageError(`--steps: unknown step types ${unknown.join(', ')} (known: ${app.registry.names().join(', ')})`);
      }
      const pool = startPool(app, o.pool as Pool, { ...(steps ? { steps } : {}), concurrency: o.concurrency, ...(o.maxJobs ? { maxJobs: o.maxJobs } : {}) });
      await pool.ready();
      const metrics = await observe(app, 'worker');
      console.log(`worker ready: pool ${o.pool}, pid ${process.pid}, queues ${pool.queues.join(', ')}${metrics.url ? `, metrics ${metrics.url}` : ''}`);
      await runUntilStopped(app, [pool], stopped, o.maxJobs ? pool.exhausted : undefined, () => metrics.close());
    });

  program
    .command('dev')
    .description('everything in one process for local use: workers for both pools, and a first run')
    .option('--pipeline <id>', 'pipeline to run at start', 'weekly-recommendations')
    .option('--no-run', 'start the workers only')
    .option('--once', 'exit when the first run ends (exit 1 if it failed)')
    .action(async (o: { pipeline: string; run: boolean; once?: boolean }) => {
      const stopped = stopSignal();
      const app = await openApp();
      // Python with torch is needed only by train steps; everything else always
      const needsTorch = !o.run || app.runs.pipeline(o.pipeline).steps.some((s) => stepTypeName(s.type) === 'train');
      const missing = (await checkPrerequisites()).filter((c) => !c.ok && (needsTorch || c.name !== 'python + torch'));
      if (missing.length) {
        console.error(`bullpen dev: missing prerequisites:\n${formatChecks(missing)}`);
        await app.close();
        process.exitCode = 2;
        return;
      }
      const pools = POOLS.map((p) => startPool(app, p, {}));
      await Promise.all(pools.map((p) => p.ready()));
      const scheduler = startScheduler(app);
      await scheduler.start();
      const monitor = await observe(app, 'dev');
      const dashboard = await serveDevDashboard(app);
      console.log(`bullpen dev: workers (cpu and gpu pools), scheduler and monitor ready, Redis ${redactUrl(app.config.redisUrl)}, prefix ${app.config.prefix}`);
      console.log(`pipelines: ${app.pipelines.map((p) => p.id).join(', ')}${monitor.url ? `; metrics ${monitor.url}` : ''}`);
      if (dashboard) console.log(`dashboard: ${dashboard.url}`);
      let first: Promise<RunState> | undefined;
      if (o.run) {
        const { runId } = await app.runs.start(o.pipeline, { trigger: 'dev' });
        console.log(`started run ${runId}`);
        first = follow(app, runId);
        first.then(
          (r) => {
            console.log(renderRun(r));
            const outputs = describeOutputs(loadBackendConfig(), { pipeline: o.pipeline, runId });
            if (outputs.length) console.log(`\noutputs:\n${outputs.map((l) => `  ${l}`).join('\n')}`);
            console.log(`\nrun again: npx bullpen run ${o.pipeline} --wait   inspect: npx bullpen runs show ${runId} --logs`);
            if (dashboard) console.log(`dashboard: ${dashboard.url}/runs/${runId}`);
            if (monitor.url) console.log(`metrics: ${monitor.url}`);
          },
          (err: Error) => console.error(err.message),
        );
      }
      if (o.once && first) {
        const r = await first.catch(() => undefined);
        if (r?.status !== 'succeeded') process.exitCode = 1;
      }
      if (!o.once) console.log('Ctrl-C to stop');
      await runUntilStopped(app, pools, stopped, o.once ? Promise.resolve() : undefined, async () => {
        await Promise.all([scheduler.close(), monitor.close(), dashboard?.close()]);
      });
    });
}

/** Prints each step's state changes as the run goes (a display: polls), until it ends. */
async function follow(app: App, runId: string): Promise<RunState> {
  const final = app.watcher().wait(runId, 3_600_000);
  const seen = new Map<string, string>();
  let finished = false;
  void final.finally(() => (finished = true)).catch(() => undefined);
  const print = async (): Promise<void> => {
    const run = await app.reader.get(runId);
    for (const s of run?.steps ?? []) {
      if (seen.get(s.id) === s.status) continue;
      seen.set(s.id, s.status);
      const t = s.durationMs !== undefined ? ` (${duration(s.durationMs)})` : '';
      console.log(`  ${new Date().toISOString().slice(11, 23)}  ${s.id.padEnd(16)} ${s.status}${t}`);
    }
  };
  while (!finished) {
    await print();
    await Promise.race([final.catch(() => undefined), new Promise((r) => setTimeout(r, 200))]);
  }
  await print();
  return final;
}
