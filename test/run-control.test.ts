/**
 * Run control: maxActiveRuns (waiting in logical-time order), retry from the
 * failed step reusing outputs, cancel (across processes), backfill, global
 * step-type concurrency, and bad input at the command line.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, loadPipelines, task } from '../flows/index.js';
import { backfill } from '../producer/backfill.js';
import { Scheduler } from '../producer/scheduler.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { startCli } from './helpers/cli.js';
import { waitGone } from './helpers/process.js';
import { Recorder } from './helpers/recorder.js';

const rec = new Recorder();
const held = task('held', {
  run: async (ctx) => {
    rec.record(ctx.runId, 'held', 'start');
    await rec.latch(ctx.runId);
    rec.record(ctx.runId, 'held', 'end');
  },
});
const limited = definePipeline({ id: 'limited', maxActiveRuns: 2, steps: [held] });

const failOnce = new Set<string>();
const a = task('a', { run: (ctx) => (rec.record(ctx.runId, 'a', 'start'), { rows: 42 }) });
const b = task('b', {
  dependsOn: [a],
  run: (ctx) => {
    rec.record(ctx.runId, 'b', 'start');
    if (!failOnce.has(ctx.runId)) {
      failOnce.add(ctx.runId);
      throw new Error('flaky upstream');
    }
    return { doubled: ctx.deps.a.rows * 2 };
  },
});
const c = task('c', { dependsOn: [b], run: (ctx) => (rec.record(ctx.runId, 'c', 'start'), ctx.deps.b.doubled + 1) });
const retryable = definePipeline({ id: 'retryable', steps: [a, b, c] });

const nightly = definePipeline({ id: 'nightly', schedule: { cron: '0 3 * * *', tz: 'America/New_York' }, steps: [task('n', { run: () => 1 })] });
const loads = definePipeline({
  id: 'loads',
  maxActiveRuns: 10,
  steps: ['l1', 'l2', 'l3', 'l4'].map((id) =>
    task(id, {
      run: async (ctx) => {
        rec.record(ctx.runId, id, 'start');
        await rec.latch(`${ctx.runId}/${id}`);
        rec.record(ctx.runId, id, 'end');
      },
    }),
  ),
});

let engine: TestEngine;
let fixtures: Awaited<ReturnType<typeof loadPipelines>>['pipelines'];
beforeAll(async () => {
  fixtures = (await loadPipelines('test/fixtures/procs')).pipelines;
  engine = await createEngine({ label: 'control', pipelines: [limited, retryable, nightly, loads, ...fixtures] });
});
afterAll(() => engine.close());

const running = (runIds: string[]): string[] =>
  runIds.filter((id) => rec.of(id, 'held', 'start').length > 0 && rec.of(id, 'held', 'end').length === 0);

describe('maxActiveRuns', () => {
  it('at most maxActiveRuns at once; the others start in logical-time order as slots free', async () => {
    const pool = await engine.worker({ concurrency: 10 });
    const days = ['2027-01-03', '2027-01-01', '2027-01-05', '2027-01-02', '2027-01-04'];
    const ids: Record<string, string> = {};
    for (const d of days) ids[d] = (await engine.runs.start('limited', { logicalTime: new Date(`${d}T00:00:00Z`) })).runId;
    const all = Object.values(ids);
    await rec.waitFor((e) => e.runId === ids['2027-01-03'] && e.what === 'start');
    await rec.waitFor((e) => e.runId === ids['2027-01-01'] && e.what === 'start');
    expect((await engine.reader.get(ids['2027-01-02']!))!).toMatchObject({ status: 'waiting', waitingBehind: 0 });
    expect((await engine.reader.get(ids['2027-01-05']!))!).toMatchObject({ status: 'waiting', waitingBehind: 2 });
    const order: string[] = [];
    for (const next of ['2027-01-02', '2027-01-04', '2027-01-05']) {
      const head = running(all)[0]!;
      expect(running(all)).toHaveLength(2);
      rec.open(head);
      await rec.waitFor((e) => e.runId === ids[next] && e.what === 'start');
      order.push(next);
    }
    expect(order).toEqual(['2027-01-02', '2027-01-04', '2027-01-05']);
    for (const id of all) rec.open(id);
    for (const id of all) expect((await engine.watcher.wait(id, 20_000)).status).toBe('succeeded');
    await pool.close(0);
  });
});

describe('retry', () => {
  it('re-runs the failed and never-started steps, reusing completed outputs', async () => {
    const pool = await engine.worker();
    const first = await engine.runToEnd('retryable');
    expect(first.status).toBe('failed');
    expect(first.steps.map((s) => s.status)).toEqual(['succeeded', 'failed', 'skipped']);
    const r = await engine.control.retry(first.runId);
    expect(r).toMatchObject({ attempt: 2, rerun: ['b', 'c'], reused: ['a'] });
    const second = await engine.watcher.wait(first.runId, 20_000);
    expect(second).toMatchObject({ status: 'succeeded', attempt: 2 });
    expect(second.steps.map((s) => [s.id, s.status, s.output])).toEqual([
      ['a', 'succeeded', { rows: 42 }],
      ['b', 'succeeded', { doubled: 84 }],
      ['c', 'succeeded', 85],
    ]);
    expect(rec.of(first.runId, 'a', 'start')).toHaveLength(1);
    expect(rec.of(first.runId, 'b', 'start')).toHaveLength(2);
    await expect(engine.control.retry(first.runId)).rejects.toThrow(`run ${first.runId} is succeeded: only a failed run can be retried`);
    await pool.close(0);
  });
});

describe('cancel', () => {
  it('aborts a running step in another process (killing its subprocess); later steps never start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bullpen-cancel-'));
    const w = startCli(['worker'], { redisUrl: engine.url, prefix: engine.prefix, pipelines: 'test/fixtures/procs' });
    try {
      await w.waitForLine(/worker ready/);
      const { runId } = await engine.runs.start('cancellable', { params: { dir } });
      const pid = await new Promise<number>((resolve, reject) => {
        const deadline = Date.now() + 20_000;
        const look = (): void =>
          void readFile(join(dir, 'pid'), 'utf8').then(
            (s) => (s.trim() ? resolve(Number(s)) : setImmediate(look)),
            () => (Date.now() > deadline ? reject(new Error('step never started')) : setImmediate(look)),
          );
        look();
      });
      await engine.control.cancel(runId);
      const run = await engine.watcher.wait(runId, 20_000);
      expect(run.status).toBe('cancelled');
      expect(run.steps.map((s) => [s.id, s.status])).toEqual([['long', 'cancelled'], ['after', 'skipped']]);
      await waitGone(pid);
      await expect(engine.control.cancel(runId)).rejects.toThrow(`run ${runId} already ended (cancelled): nothing to cancel`);
    } finally {
      await w.stop('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a run waiting for a slot leaves the line and ends cancelled without starting', async () => {
    const pool = await engine.worker();
    const first = await engine.runs.start('limited');
    const second = await engine.runs.start('limited');
    const third = await engine.runs.start('limited');
    expect((await engine.reader.get(third.runId))!.status).toBe('waiting');
    await engine.control.cancel(third.runId);
    expect((await engine.watcher.wait(third.runId, 20_000)).status).toBe('cancelled');
    expect(rec.of(third.runId, 'held', 'start')).toHaveLength(0);
    rec.open(first.runId);
    rec.open(second.runId);
    await engine.watcher.wait(second.runId, 20_000);
    await pool.close(0);
  });
});

describe('backfill', () => {
  it('one run per tick, idempotent; dry runs create nothing; bad ranges are refused', async () => {
    const from = new Date('2025-01-01T00:00:00Z');
    const to = new Date('2025-12-31T23:59:59Z');
    const dry = await backfill(engine.runs, 'nightly', { from, to, dryRun: true });
    expect(dry.ticks).toHaveLength(365);
    expect(dry.ticks[0]).toBe('2025-01-01T08:00:00.000Z'); // 03:00 EST
    expect(dry.ticks).toContain('2025-07-04T07:00:00.000Z'); // 03:00 EDT
    expect(await engine.reader.list('nightly', 1000)).toEqual([]);
    const first = await backfill(engine.runs, 'nightly', { from, to });
    expect(first.created).toHaveLength(365);
    const again = await backfill(engine.runs, 'nightly', { from, to });
    expect(again.created).toEqual([]);
    expect(new Set(again.existing)).toEqual(new Set(first.created));
    const july = (await engine.reader.get('nightly.20250704T070000Z'))!;
    expect(july.dataInterval).toEqual({ start: '2025-07-03T07:00:00.000Z', end: '2025-07-04T07:00:00.000Z' });
    expect(await engine.reader.list('nightly', 1000)).toHaveLength(365);
    await expect(backfill(engine.runs, 'nightly', { from: to, to: from })).rejects.toThrow(
      '--from 2025-12-31T23:59:59.000Z is after --to 2025-01-01T00:00:00.000Z',
    );
    await expect(backfill(engine.runs, 'limited', { from, to })).rejects.toThrow('pipeline limited has no schedule');
  });
});

describe('global step-type concurrency', () => {
  it('the scheduler caps a step type across all workers', async () => {
    const s = new Scheduler({ redisUrl: engine.url, connection: engine.connection, prefix: engine.prefix, runs: engine.runs, stepConcurrency: { task: 2 } });
    await s.start();
    await s.close();
    const q = new Queue('step.task@cpu', { connection: engine.connection, prefix: engine.prefix });
    expect(await q.getGlobalConcurrency()).toBe(2);
    await q.close();
    const pools = [await engine.worker({ concurrency: 4 }), await engine.worker({ concurrency: 4 })];
    const { runId } = await engine.runs.start('loads');
    const ids = ['l1', 'l2', 'l3', 'l4'];
    await rec.waitFor((e) => e.runId === runId && e.what === 'start' && rec.events.filter((x) => x.runId === runId && x.what === 'start').length === 2);
    const startedFirst = ids.filter((id) => rec.of(runId, id, 'start').length);
    expect(startedFirst).toHaveLength(2);
    rec.open(`${runId}/${startedFirst[0]}`);
    await rec.waitFor(() => rec.events.filter((x) => x.runId === runId && x.what === 'start').length === 3);
    const concurrent = ids.filter((id) => rec.of(runId, id, 'start').length && !rec.of(runId, id, 'end').length);
    expect(concurrent).toHaveLength(2);
    for (const id of ids) rec.open(`${runId}/${id}`);
    expect((await engine.watcher.wait(runId, 20_000)).status).toBe('succeeded');
    await Promise.all(pools.map((p) => p.close(0)));
  });
});
