/**
 * Dashboard benchmark: 100 pipelines × 50 finished runs each (5-step DAG, one
 * run in ten failing at a step, so the grid has failed and skipped cells) in
 * Redis, then the time to render the pipelines page (`/`, 10 recent runs per
 * pipeline) and one pipeline's grid (50 runs × 5 steps on one page), measured
 * in the server (request in to response finished). Beside it, the same grid
 * read with RunReader.get per run (what the batched `summaries` replaces).
 *
 *   npm run bench:dashboard            # prints a markdown table
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { dashboardDeps } from '../cli/commands/dashboard.js';
import { connect, deletePrefix } from '../common/redis.js';
import { parseTokens } from '../dashboard/auth.js';
import { dashboardApp } from '../dashboard/server.js';
import { definePipeline, task, type PipelineDefinition } from '../flows/index.js';
import { RunControl } from '../producer/control.js';
import { RunCreator } from '../producer/runs.js';
import { RunReader } from '../producer/state.js';
import { builtinRegistry } from '../workers/builtin.js';
import { startWorkerPool } from '../workers/worker.js';

const url = process.env.BULLPEN_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PIPELINES = 100;
const RUNS = 50;
const ROUNDS = 20;
const TOKEN = randomBytes(16).toString('hex');

function pipeline(i: number): PipelineDefinition {
  const extract = task('extract', { run: () => ({ rows: 1 }) });
  const clean = task('clean', { dependsOn: [extract], run: () => 1 });
  const features = task('features', { dependsOn: [extract], run: (ctx) => { if (ctx.params.fail) throw new Error('feature store timeout'); return 1; } });
  const train = task('train', { dependsOn: [clean, features], run: () => ({ loss: 0.1 }) });
  const publish = task('publish', { dependsOn: [train], run: () => true });
  return definePipeline({
    id: `p${String(i).padStart(3, '0')}`,
    description: `pipeline number ${i}`,
    owner: 'bench',
    params: { fail: { type: 'boolean', default: false } },
    schedule: { cron: `${i % 60} ${i % 24} * * *`, tz: 'Europe/Berlin' },
    maxActiveRuns: RUNS,
    steps: [extract, clean, features, train, publish],
  });
}

const pipelines = Array.from({ length: PIPELINES }, (_, i) => pipeline(i));
const prefix = `{bpbench-dash-${randomBytes(3).toString('hex')}}`;
const connection = connect(url);
const registry = builtinRegistry(pipelines);
const runs = new RunCreator({ connection, prefix, pipelines, catalog: registry.catalog(), keepRuns: 100, runMaxAgeDays: 30 });
const reader = new RunReader(connection, prefix);
const control = new RunControl(connection, prefix, runs, reader);
const pool = startWorkerPool({ redisUrl: url, connection, prefix, registry, concurrency: 50 });
await pool.ready();

const t0 = performance.now();
const jobs = pipelines.flatMap((p) => Array.from({ length: RUNS }, (_, r) => ({ p: p.id, r })));
for (let i = 0; i < jobs.length; i += 50)
  await Promise.all(jobs.slice(i, i + 50).map(({ p, r }) => runs.start(p, { key: `r${r}`, params: { fail: r % 10 === 7 }, skipTrim: true })));
const created = performance.now() - t0;
// a benchmark (not a test) may poll: wait until every run root has finished
const finishedRuns = (): Promise<number> => Promise.all([connection.zcard(`${prefix}:runs:completed`), connection.zcard(`${prefix}:runs:failed`)]).then(([a, b]) => a + b);
while ((await finishedRuns()) < jobs.length) await new Promise((r) => setTimeout(r, 500));
const processed = performance.now() - t0;
await pool.close(0);

const deps = dashboardDeps({ pipelines, registry, connection, runs, reader, control, config: { prefix, redisUrl: url } });
const app = dashboardApp({ deps, credentials: parseTokens(`viewer:${TOKEN}`), pageSize: RUNS });
const serverTimes: number[] = [];
const server = app.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
server.on('request', (_req, res) => {
  const start = performance.now();
  res.once('finish', () => serverTimes.push(performance.now() - start));
});
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

async function measure(path: string): Promise<{ median: number; max: number; bytes: number }> {
  let bytes = 0;
  for (let i = 0; i < 3; i++) await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
  serverTimes.length = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    bytes = (await res.text()).length;
  }
  const s = [...serverTimes].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]!, bytes };
}

async function timeIt(fn: () => Promise<unknown>): Promise<{ median: number; max: number }> {
  for (let i = 0; i < 3; i++) await fn();
  const s: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await fn();
    s.push(performance.now() - t);
  }
  s.sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}

const home = await measure('/');
const grid = await measure('/pipelines/p042');
const ids = await reader.list('p042', RUNS);
const viaGet = await timeIt(() => Promise.all(ids.map((id) => reader.get(id))));
const viaSummaries = await timeIt(() => reader.summaries(ids));
const f = (n: number): string => n.toFixed(1);
console.log(`\n${PIPELINES} pipelines × ${RUNS} runs (5 steps; ${jobs.length} runs created in ${Math.round(created)} ms, all finished after ${Math.round(processed)} ms), ${ROUNDS} requests each:\n`);
console.log('| what | median ms | max ms | HTML KB |\n|---|--:|--:|--:|');
console.log(`| \`/\` pipelines page (100 pipelines, 10 recent runs each) | ${f(home.median)} | ${f(home.max)} | ${Math.round(home.bytes / 1024)} |`);
console.log(`| \`/pipelines/p042\` grid (50 runs × 5 steps, one page) | ${f(grid.median)} | ${f(grid.max)} | ${Math.round(grid.bytes / 1024)} |`);
console.log(`| reading those 50 runs: \`RunReader.summaries\` | ${f(viaSummaries.median)} | ${f(viaSummaries.max)} | |`);
console.log(`| reading those 50 runs: \`RunReader.get\` each | ${f(viaGet.median)} | ${f(viaGet.max)} | |`);

await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
await deps.close();
await Promise.all([runs.close(), reader.close()]);
await deletePrefix(connection, prefix);
await connection.quit();
