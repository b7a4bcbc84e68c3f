/**
 * Engine benchmark: raw BullMQ flows vs Bullpen runs of the same shapes, side
 * by side on the same Redis, in one process.
 *
 *   npm run bench                      # full run, prints tables, updates bench/RESULTS.md
 *   npm run bench -- --count           # also count Redis commands per run
 *   npm run bench -- --only bullpen --shapes fan10 --no-write
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/engine.ts --only bullpen --no-write
 *
 * Per (system, shape): a warm-up, `--unloaded` runs one at a time, then
 * `--rounds` batches of `--batch` runs created at once. Everything lives under
 * a fresh key prefix that is deleted at the end.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { connect, deletePrefix } from '../common/redis.js';
import { Bullpen } from './lib/bullpen.js';
import { Finisher, loaded, unloaded, type PhaseEnv, type PhaseResult } from './lib/measure.js';
import { Counter } from './lib/probes.js';
import { RawBullMQ } from './lib/raw.js';
import { commandsTable, diagnosticsTable, gateTable, mainTable, targetsTable, writeResults, type Cell } from './lib/report.js';
import { SHAPES, type Shape } from './lib/shapes.js';
import { WORKER_SETTINGS, type BenchSystem } from './lib/system.js';

const { values: args } = parseArgs({
  options: {
    unloaded: { type: 'string', default: '100' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '20' },
    only: { type: 'string' },
    shapes: { type: 'string' },
    count: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    /** Experiments: Bullpen wiring variants (see bench/lib/bullpen.ts). */
    'bp-autopipeline': { type: 'boolean', default: false },
    'bp-split-conn': { type: 'boolean', default: false },
  },
});

const N_UNLOADED = Number(args.unloaded);
const N_BATCH = Number(args.batch);
const ROUNDS = Number(args.rounds);
const N_WARMUP = Number(args.warmup);
const url = process.env.BULLPEN_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `{bpbench-${randomBytes(4).toString('hex')}}`;
const resultsPath = fileURLToPath(new URL('./RESULTS.md', import.meta.url));


function versionOf(pkg: string): string {
  const path = fileURLToPath(new URL(`../node_modules/${pkg}/package.json`, import.meta.url));
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

const loadAtStart = os.loadavg()[0]!;

/** Which Bullpen code was measured: the git commit, and whether files outside bench/ differed from it. */
function codeVersion(): string {
  if (process.env.BENCH_SOURCE) return process.env.BENCH_SOURCE;
  try {
    const git = (...a: string[]): string => execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', '.', ':(exclude)bench').split('\n').filter(Boolean).length;
    return dirty ? `${commit} plus ${dirty} uncommitted change(s) outside bench/` : `${commit} (clean)`;
  } catch {
    return 'unknown (not a git checkout; set BENCH_SOURCE)';
  }
}

async function machine(redis: Redis): Promise<string> {
  const info = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  const cpus = os.cpus();
  return [
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
    `- CPU: ${cpus.length} cores (${cpus[0]?.model.trim() ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}`,
    `- Node ${process.version}, Redis ${redisVersion} (local, same machine), bullmq ${versionOf('bullmq')}, ioredis ${versionOf('ioredis')}`,
    `- Bullpen code: ${codeVersion()}`,
    `- One process runs producer, workers and the bench driver for both systems; Redis runs alongside on the same ${cpus.length} cores.`,
    `- Workers: one BullMQ Worker per queue, concurrency ${WORKER_SETTINGS.concurrency}, lockDuration ${WORKER_SETTINGS.lockDurationMs} ms, stalledInterval ${WORKER_SETTINGS.stalledIntervalMs} ms (both systems). Steps are no-ops.`,
    `- Load average (1 min) at start / end of the bench: ${loadAtStart.toFixed(1)} / ${os.loadavg()[0]!.toFixed(1)} (anything above ~0.5 before the bench is other work on the machine, which adds noise).`,
    ...(args['bp-split-conn'] || args['bp-autopipeline']
      ? [`- **Bullpen wiring experiment**: ${[args['bp-split-conn'] && 'RunCreator on its own connection', args['bp-autopipeline'] && 'auto-pipelining on the shared connection'].filter(Boolean).join(', ')}.`]
      : []),
    `- Per (system, shape): ${N_WARMUP} warm-up runs + a warm-up batch of 100, then ${N_UNLOADED} unloaded runs (one at a time), then ${ROUNDS} loaded batch(es) of ${N_BATCH} runs created at once; batches after the first alternate which system goes first.`,
  ].join('\n');
}

const shapes: Shape[] = args.shapes ? SHAPES.filter((s) => args.shapes!.split(',').includes(s.id)) : [...SHAPES];
const wanted = args.only ? args.only.split(',') : ['raw', 'bullpen'];

async function main(): Promise<void> {
  const t0 = Date.now();
  const counter = args.count ? new Counter() : undefined;
  counter?.install();
  const redis = connect(url);
  const env: PhaseEnv = { redis, prefix, ...(counter ? { counter } : {}) };
  const systems: BenchSystem[] = [];
  if (wanted.includes('raw')) systems.push(new RawBullMQ(url, prefix));
  if (wanted.includes('bullpen')) systems.push(new Bullpen(url, prefix, shapes, { autoPipelining: args['bp-autopipeline'], splitProducerConnection: args['bp-split-conn'] }));
  const finishers = new Map<string, Finisher>();
  const finisherOf = (sys: BenchSystem, shape: Shape): Finisher => {
    const q = sys.finalJob(shape, 'x').queue;
    let f = finishers.get(q);
    if (!f) finishers.set(q, (f = new Finisher(url, redis, prefix, q)));
    return f;
  };
  const cells: Cell[] = [];
  console.error(`bench: prefix ${prefix}, shapes ${shapes.map((s) => s.id).join(', ')}, systems ${systems.map((s) => s.key).join(', ')}`);
  try {
    for (const s of systems) await s.start();
    await Promise.all(shapes.flatMap((shape) => systems.map((s) => finisherOf(s, shape).ready())));

    for (const shape of shapes) {
      for (const sys of systems) {
        const fin = finisherOf(sys, shape);
        const finalQueue = sys.finalJob(shape, 'x').queue;
        const keys = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${sys.key}-${shape.id}-${tag}${i}`);
        await unloaded(env, sys, fin, shape, keys('w', N_WARMUP));
        await loaded(env, sys, shape, keys('wb', 100), finalQueue);
        const u = await unloaded(env, sys, fin, shape, keys('u', N_UNLOADED));
        const l = await loaded(env, sys, shape, keys('L0x', N_BATCH), finalQueue);
        cells.push({ sys, shape, unloaded: u, loaded: [l] });
        console.error(`  ${sys.key}/${shape.id}: unloaded ${u.wallMs} ms, batch ${l.wallMs} ms (${Math.round((Date.now() - t0) / 1000)} s)`);
      }
    }
    for (let round = 1; round < ROUNDS; round++) {
      for (const shape of shapes) {
        // Alternate which system goes first, so a drift in background load favours neither.
        for (const sys of round % 2 ? [...systems].reverse() : systems) {
          const cell = cells.find((c) => c.sys === sys && c.shape === shape)!;
          const keys = Array.from({ length: N_BATCH }, (_, i) => `${sys.key}-${shape.id}-L${round}x${i}`);
          const l: PhaseResult = await loaded(env, sys, shape, keys, sys.finalJob(shape, 'x').queue);
          cell.loaded.push(l);
          console.error(`  ${sys.key}/${shape.id}: round ${round + 1} batch ${l.wallMs} ms (${Math.round((Date.now() - t0) / 1000)} s)`);
        }
      }
    }

    const sections = [
      `## Results\n\n${mainTable(cells)}`,
      `Release latency = step.processedOn − finishedOn of the last of its dependencies to finish, for every step that has dependencies, in every run (BullMQ job timestamps, whole ms). Rows "via tree/gate edge" split Bullpen releases by the kind of that last edge. ` +
        `Throughput = runs in a batch ÷ (first create call → last run finished), median of ${ROUNDS} batch(es) (range in brackets); "% of raw" is the median of the per-round ratios (the two systems' batches of a round run back to back).`,
    ];
    if (systems.some((s) => s.key === 'bullpen')) sections.push(`## Targets\n\n${targetsTable(cells)}`);
    sections.push(
      `## Diagnostics (ms)\n\n${diagnosticsTable(cells)}\n\n` +
        'Makespan: create call → final job finished. Service: a step job\'s processedOn → finishedOn. CPU per run: process.cpuUsage() of this process ' +
        '(producer, workers and the bench driver) and Redis used_cpu_user+sys, over the loaded batches, divided by runs. ' +
        'On this machine the Node process is the bottleneck (more CPU per run than Redis), and its CPU grows with the BullMQ jobs per run; ' +
        'the CPU-per-run ratio is a cross-check of the throughput ratio that is far less sensitive to other load on the machine.',
    );
    const gates = gateTable(cells);
    if (gates) sections.push(`### Bullpen gate edges, hop by hop (ms)\n\n${gates}`);
    const cmds = commandsTable(cells);
    if (cmds) sections.push(`### Redis commands sent per run (loaded batches)\n\n${cmds}`);
    const report = sections.join('\n\n');
    console.log(report);

    if (!args['no-write']) {
      const reproduce = [
        '## How to reproduce',
        '',
        '```sh',
        'redis-server --daemonize yes          # Redis 7 on 127.0.0.1:6379 (or set BULLPEN_REDIS_URL)',
        'npm ci',
        'npm run bench                         # ~2-3 min; prints the tables and rewrites the generated part of bench/RESULTS.md',
        'npm run bench -- --count --no-write   # also counts Redis commands per run',
        'node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/engine.ts --only bullpen --no-write   # CPU profile',
        '```',
        '',
        'Flags: `--unloaded N` (100), `--batch N` (500), `--rounds N` (7), `--warmup N` (20), `--only raw|bullpen`, `--shapes chain8,fan10`, `--count`, `--no-write`; wiring experiments for Bullpen: `--bp-split-conn` (RunCreator on its own connection), `--bp-autopipeline` (ioredis auto-pipelining on the shared connection).',
      ].join('\n');
      writeResults(resultsPath, `## Machine\n\n${await machine(redis)}\n\n${report}\n\n${reproduce}`);
      console.error(`bench: wrote ${resultsPath}`);
    }
  } finally {
    for (const f of finishers.values()) await f.close();
    for (const s of systems) await s.close();
    const n = await deletePrefix(redis, prefix);
    await redis.quit();
    console.error(`bench: deleted ${n} keys under ${prefix}; took ${Math.round((Date.now() - t0) / 1000)} s`);
  }
}

await main();
