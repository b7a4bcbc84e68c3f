/** `bullpen scheduler|pipelines|pause|resume|backfill`: schedules and pipeline control. */
import type { Command } from 'commander';
import cronstrue from 'cronstrue';
import { nextTicks } from '../../flows/index.js';
import { backfill } from '../../producer/backfill.js';
import { Scheduler } from '../../producer/scheduler.js';
import { openApp, UsageError, type App } from '../app.js';
import { observe } from '../observe.js';
import { stopSignal } from '../signals.js';
import { parseDate } from '../dates.js';
import { table } from '../format.js';
import { collectParam, withApp } from './runs.js';

export function startScheduler(app: App): Scheduler {
  const scheduler = new Scheduler({
    redisUrl: app.config.redisUrl,
    connection: app.connection,
    prefix: app.config.prefix,
    runs: app.runs,
    stepConcurrency: app.config.stepConcurrency,
  });
  scheduler.on('error', (err) => console.error(`[bullpen scheduler] ${err.message}`));
  scheduler.on('leader', () => console.log(`scheduler ${scheduler.id.slice(0, 8)}: leader, syncing job schedulers`));
  scheduler.on('tick', (t) => {
    if (t.runs.length) console.log(`tick ${t.pipeline}: ${t.runs.join(', ')}`);
    else if (t.skipped) console.log(`tick ${t.pipeline}: skipped (${t.skipped})`);
  });
  return scheduler;
}

export function describeCron(cron: string): string {
  try {
    return cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return cron;
  }
}

export function registerSchedule(program: Command): void {
  program
    .command('scheduler')
    .description('sync job schedulers (one elected replica) and turn schedule ticks into runs')
    .action(async () => {
      const stopped = stopSignal();
      const app = await openApp();
      const scheduler = startScheduler(app);
      await scheduler.start();
      const metrics = await observe(app, 'scheduler');
      console.log(`scheduler ready: ${app.pipelines.filter((p) => p.schedule).length} scheduled pipelines${metrics.url ? `, metrics ${metrics.url}` : ''}`);
      await stopped;
      await Promise.all([scheduler.close(), metrics.close()]);
      await app.close();
    });

  program
    .command('pipelines')
    .description('pipelines with schedule (and in words), next run, last run, paused')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      await withApp(async (app) => {
        const paused = await app.control.paused();
        const rows = await Promise.all(
          app.pipelines.map(async (p) => {
            const [last] = await app.reader.list(p.id, 1);
            const [lastRun] = last ? await app.reader.summaries([last], { steps: false }) : [];
            const next = p.schedule && !paused.has(p.id) ? nextTicks(p.schedule, new Date())[0]?.toISOString() : undefined;
            return {
              id: p.id,
              description: p.description,
              owner: p.owner,
              cron: p.schedule?.cron ?? null,
              tz: p.schedule ? (p.schedule.tz ?? 'UTC') : null,
              schedule: p.schedule ? `${describeCron(p.schedule.cron)} (${p.schedule.tz ?? 'UTC'})` : 'manual only',
              nextRun: next ?? null,
              lastRun: lastRun ? { runId: lastRun.runId, status: lastRun.status, logicalTime: lastRun.logicalTime } : null,
              paused: paused.has(p.id),
              catchup: p.catchup,
              maxActiveRuns: p.maxActiveRuns,
            };
          }),
        );
        if (o.json) return console.log(JSON.stringify(rows));
        console.log(
          table(
            ['PIPELINE', 'SCHEDULE', 'NEXT RUN', 'LAST RUN', 'PAUSED'],
            rows.map((r) => [r.id, r.schedule, r.nextRun ?? '-', r.lastRun ? `${r.lastRun.status} (${r.lastRun.runId})` : '-', r.paused ? 'yes' : 'no']),
          ),
        );
      });
    });

  program
    .command('pause')
    .description('stop making runs from the schedule (running runs go on)')
    .argument('<pipeline>')
    .action(async (id: string) => {
      await withApp(async (app) => {
        await app.control.pause(id);
        console.log(`paused ${id}: its schedule makes no runs until resumed`);
      });
    });

  program
    .command('resume')
    .description('resume a paused pipeline; ticks missed meanwhile follow its catchup policy')
    .argument('<pipeline>')
    .action(async (id: string) => {
      await withApp(async (app) => {
        const { pipeline: p, ticks: t } = await app.control.resume(id);
        console.log(`resumed ${id}${t.runs.length ? `; catch-up (${p.catchup}) made ${t.runs.join(', ')}` : ''}`);
      });
    });

  program
    .command('backfill')
    .description("one run per schedule tick in [from, to]; idempotent, in logical-time order")
    .argument('<pipeline>')
    .requiredOption('--from <date>', 'first logical date (ISO 8601)')
    .requiredOption('--to <date>', 'last logical date (ISO 8601), inclusive: a bare date includes that whole day (UTC)')
    .option('--max-active <n>', "runs of this backfill active at once (default: the pipeline's maxActiveRuns, shared)")
    .option('-p, --param <key=value>', 'run parameter (repeatable)', collectParam, {})
    .option('--dry-run', 'list the ticks; create nothing')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { from: string; to: string; maxActive?: string; param: Record<string, string>; dryRun?: boolean; json?: boolean }) => {
      const from = parseDate('--from', o.from);
      const to = parseDate('--to', o.to, true);
      const maxActive = o.maxActive === undefined ? undefined : Number(o.maxActive);
      if (maxActive !== undefined && !(Number.isInteger(maxActive) && maxActive >= 1)) throw new UsageError(`--max-active ${o.maxActive}: expected a whole number ≥ 1`);
      await withApp(async (app) => {
        const tty = process.stdout.isTTY && !o.json;
        const started = Date.now();
        const result = await backfill(app.runs, id, {
          from,
          to,
          params: o.param,
          ...(maxActive !== undefined ? { maxActive } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
          onProgress: (done, total) => {
            if (o.json) return;
            if (tty) {
              const width = 30;
              const filled = Math.round((done / total) * width);
              process.stdout.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
              if (done === total) process.stdout.write('\n');
            } else if (done === total || done % 50 === 0) console.log(`backfill ${id}: ${done}/${total}`);
          },
        });
        if (o.json) return console.log(JSON.stringify(result));
        if (o.dryRun) {
          for (const t of result.ticks) console.log(t);
          return console.log(`dry run: ${result.ticks.length} ticks of ${id}; nothing created`);
        }
        console.log(`backfill ${id}: ${result.created.length} runs created, ${result.existing.length} already existed, in ${Date.now() - started} ms`);
      });
    });
}
