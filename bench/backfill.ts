/**
 * Backfill benchmark: creating one year of daily runs (365) of a 4-step
 * diamond with `backfill`, beside raw BullMQ adding the same 365 flows with
 * FlowProducer.addBulk, on the same Redis, in one process. Also the second,
 * idempotent backfill of the same range (it must create nothing).
 *
 *   npm run bench:backfill            # prints a markdown table
 */
import { randomBytes } from 'node:crypto';
import { FlowProducer, type FlowJob } from 'bullmq';
import { connect, deletePrefix } from '../common/redis.js';
import { definePipeline, task } from '../flows/index.js';
import { backfill } from '../producer/backfill.js';
import { RunCreator } from '../producer/runs.js';
import { builtinRegistry } from '../workers/builtin.js';

const url = process.env.BULLPEN_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = 5;
const top = task('top', { run: () => 1 });
const left = task('left', { dependsOn: [top], run: () => 1 });
const right = task('right', { dependsOn: [top], run: () => 1 });
const bottom = task('bottom', { dependsOn: [left, right], run: () => 1 });
const daily = definePipeline({ id: 'daily', schedule: { cron: '0 6 * * *', tz: 'Europe/Berlin' }, steps: [top, left, right, bottom] });
const from = new Date('2025-01-01T00:00:00Z');
const to = new Date('2025-12-31T23:59:59Z');

/** The closest raw tree of the diamond: bottom ← left ← top, bottom ← right. */
function rawFlow(prefix: string, i: number): FlowJob {
  const leaf = (name: string, children?: FlowJob[]) => ({ name, queueName: 'raw', data: { i }, opts: { jobId: `r${i}.${name}` }, ...(children ? { children } : {}) });
  return { ...leaf('bottom', [leaf('left', [leaf('top')]), leaf('right')]), prefix } as FlowJob;
}


const rows: string[] = [];
const ms = (t0: number): number => Math.round(performance.now() - t0);
const results = { raw: [] as number[], first: [] as number[], again: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  const prefix = `{bpbench-bf-${randomBytes(3).toString('hex')}}`;
  const connection = connect(url);
  const registry = builtinRegistry([daily]);
  const runs = new RunCreator({ connection, prefix, pipelines: [daily], catalog: registry.catalog(), keepRuns: 1000, runMaxAgeDays: 3650 });
  const flows = new FlowProducer({ connection, prefix });
  let t0 = performance.now();
  await flows.addBulk(Array.from({ length: 365 }, (_, i) => rawFlow(prefix, i)));
  results.raw.push(ms(t0));
  t0 = performance.now();
  const first = await backfill(runs, 'daily', { from, to });
  results.first.push(ms(t0));
  if (first.created.length !== 365) throw new Error(`backfill created ${first.created.length} runs, not 365`);
  t0 = performance.now();
  const again = await backfill(runs, 'daily', { from, to });
  results.again.push(ms(t0));
  if (again.created.length !== 0) throw new Error('the second backfill created runs');
  await Promise.all([runs.close(), flows.close()]);
  await deletePrefix(connection, prefix);
  await connection.quit();
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
rows.push('| what (365 daily runs of a 4-step diamond) | median ms | range ms |', '|---|--:|--:|');
rows.push(`| raw BullMQ: FlowProducer.addBulk of 365 flows | ${median(results.raw)} | ${Math.min(...results.raw)}–${Math.max(...results.raw)} |`);
rows.push(`| Bullpen: backfill (365 runs created, 364 waiting for maxActiveRuns 1) | ${median(results.first)} | ${Math.min(...results.first)}–${Math.max(...results.first)} |`);
rows.push(`| Bullpen: the same backfill again (creates nothing) | ${median(results.again)} | ${Math.min(...results.again)}–${Math.max(...results.again)} |`);
console.log(rows.join('\n'));
console.log(`\n${ROUNDS} rounds, each under a fresh key prefix (deleted after); load average ${(await import('node:os')).loadavg()[0]!.toFixed(2)}`);
