/** `bullpen run` and `bullpen runs show|list`: start runs, follow them, print their state. */
import type { Command } from 'commander';
import type { RunState } from '../../producer/state.js';
import { openApp, UsageError, type App } from '../app.js';
import { parseDate } from '../dates.js';
import { duration, summary, table } from '../format.js';

export function collectParam(value: string, acc: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError(`--param ${value}: expected key=value`);
  acc[value.slice(0, eq)] = value.slice(eq + 1);
  return acc;
}

export function renderRun(run: RunState): string {
  const took = run.finishedAt ? ` in ${duration(run.finishedAt - run.createdAt)}` : '';
  const behind = run.waitingBehind !== undefined ? ` behind ${run.waitingBehind} earlier run(s)` : '';
  const attempt = run.attempt > 1 ? `, attempt ${run.attempt}` : '';
  const head = `run ${run.runId}: ${run.status}${behind}${took}  (pipeline ${run.pipeline}, trigger ${run.trigger}, logical time ${run.logicalTime}${attempt})`;
  const rows = run.steps.map((s) => [
    s.id,
    s.status,
    String(s.attempts),
    duration(s.durationMs),
    s.error ? summary(s.error, 100) : summary(s.output),
  ]);
  return `${head}\n${table(['STEP', 'STATUS', 'ATTEMPTS', 'DURATION', 'OUTPUT / ERROR'], rows)}`;
}

export async function withApp<T>(fn: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp();
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

export function registerRuns(program: Command): void {
  program
    .command('run')
    .description('start a run of a pipeline')
    .argument('<pipeline>', 'pipeline id')
    .option('-p, --param <key=value>', 'run parameter (repeatable)', collectParam, {})
    .option('--key <key>', 'idempotency key: a second run with the same key is not created')
    .option('--logical-date <iso>', 'the time the run stands for (default: now); also the run key unless --key is given')
    .option('--wait', 'follow the run to its end; exit 1 if it fails')
    .option('--timeout <seconds>', 'with --wait: give up after this long', '3600')
    .option('--json', 'print JSON')
    .action(async (pipeline: string, o: { param: Record<string, string>; key?: string; logicalDate?: string; wait?: boolean; timeout: string; json?: boolean }) => {
      const logicalTime = o.logicalDate === undefined ? undefined : parseDate('--logical-date', o.logicalDate);
      const timeoutS = Number(o.timeout);
      if (!(timeoutS > 0)) throw new UsageError(`--timeout ${o.timeout}: expected seconds > 0`);
      await withApp(async (app) => {
        const { runId, created, queued } = await app.runs.start(pipeline, {
          params: o.param,
          ...(o.key !== undefined ? { key: o.key } : {}),
          ...(logicalTime ? { logicalTime } : {}),
        });
        if (!o.json) {
          console.log(created ? `started run ${runId}` : `run ${runId} already exists (same key): not started again`);
          if (created && queued) console.log(`it waits for a slot (maxActiveRuns ${app.runs.pipeline(pipeline).maxActiveRuns}); it starts when an earlier run ends`);
        }
        if (!o.wait) {
          if (o.json) console.log(JSON.stringify({ runId, created, queued }));
          return;
        }
        const final = await app.watcher().wait(runId, timeoutS * 1000);
        console.log(o.json ? JSON.stringify(final) : renderRun(final));
        if (final.status !== 'succeeded') process.exitCode = 1;
      });
    });

  program
    .command('retry')
    .description('re-run the failed and never-started steps of a failed run; completed steps keep their outputs')
    .argument('<runId>')
    .option('--wait', 'follow the run to its end; exit 1 if it fails')
    .action(async (runId: string, o: { wait?: boolean }) => {
      await withApp(async (app) => {
        const r = await app.control.retry(runId);
        console.log(`retrying ${runId} (attempt ${r.attempt}): re-running ${r.rerun.join(', ')}; reusing ${r.reused.join(', ') || 'nothing'}`);
        if (!o.wait) return;
        const final = await app.watcher().wait(runId, 3_600_000);
        console.log(renderRun(final));
        if (final.status !== 'succeeded') process.exitCode = 1;
      });
    });

  program
    .command('cancel')
    .description('cancel a run: running steps are aborted (subprocesses killed), pending steps never start')
    .argument('<runId>')
    .action(async (runId: string) => {
      await withApp(async (app) => {
        const run = await app.control.cancel(runId);
        console.log(`cancelled ${runId} (${run.status})`);
      });
    });

  const runs = program.command('runs').description('inspect runs');
  runs
    .command('show')
    .description("print a run's steps: state, attempts, duration, output summary, error")
    .argument('<runId>')
    .option('--logs', "also print each step's last log lines")
    .option('--json', 'print JSON')
    .action(async (runId: string, o: { logs?: boolean; json?: boolean }) => {
      await withApp(async (app) => {
        const run = await app.reader.get(runId);
        if (!run) throw new UsageError(`unknown run "${runId}"`);
        if (o.json) return console.log(JSON.stringify(run));
        console.log(renderRun(run));
        if (o.logs) {
          for (const s of run.steps) {
            const lines = await app.reader.logs(s.queue, s.jobId, 20);
            if (lines.length) console.log(`\n--- ${s.id} (last ${lines.length} log lines)\n${lines.join('\n')}`);
          }
        }
      });
    });
  runs
    .command('list')
    .description("a pipeline's recent runs, newest first")
    .argument('<pipeline>')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action(async (pipeline: string, o: { limit: string; json?: boolean }) => {
      await withApp(async (app) => {
        app.runs.pipeline(pipeline);
        const ids = await app.reader.list(pipeline, Number(o.limit));
        // one batched read for all of them (steps only of unfinished runs, to tell running from queued)
        const states = (await app.reader.summaries(ids, { steps: false })).filter((r) => r !== undefined);
        if (o.json) return console.log(JSON.stringify(states.map(({ steps: _s, ...r }) => r)));
        console.log(
          table(
            ['RUN', 'STATUS', 'TRIGGER', 'LOGICAL TIME', 'DURATION'],
            states.map((r) => [r.runId, r.status, r.trigger, r.logicalTime, duration(r.finishedAt ? r.finishedAt - r.createdAt : undefined)]),
          ),
        );
      });
    });
}
