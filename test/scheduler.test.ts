/**
 * Schedules: job schedulers with replicas (one run per tick), catch-up after
 * the scheduler was down, DST transitions in a non-UTC zone, pause/resume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastTickKey } from '../common/names.js';
import { definePipeline, task, type CatchupPolicy } from '../flows/index.js';
import { Scheduler } from '../producer/scheduler.js';
import type { TickResult } from '../producer/ticks.js';
import { createEngine, type TestEngine } from './helpers/engine.js';

const step = () => task('t', { run: (ctx) => ctx.logicalTime });
const everySecond = (id: string, catchup: CatchupPolicy) =>
  definePipeline({ id, schedule: { cron: '* * * * * *' }, catchup, maxActiveRuns: 100, steps: [step()] });
const daily = definePipeline({ id: 'daily', schedule: { cron: '30 2 * * *', tz: 'Europe/Berlin' }, maxActiveRuns: 1000, steps: [step()] });
const weekly = definePipeline({ id: 'weekly', schedule: { cron: '30 2 * * 0', tz: 'Europe/Berlin' }, maxActiveRuns: 1000, steps: [step()] });
const policies = (['all', 'latest', 'none'] as const).map((c) =>
  definePipeline({ id: `catch-${c}`, schedule: { cron: '0 6 * * *', tz: 'Europe/Berlin' }, catchup: c, maxActiveRuns: 1000, steps: [step()] }),
);

let engine: TestEngine;
beforeAll(async () => {
  engine = await createEngine({
    label: 'sched',
    pipelines: [everySecond('replicas', 'all'), everySecond('down-all', 'all'), everySecond('down-latest', 'latest'), daily, weekly, ...policies],
  });
});
afterAll(() => engine.close());

function scheduler(only: string[], now?: () => Date): Scheduler {
  const runs = Object.create(engine.runs, { pipelines: { get: () => engine.runs.pipelines.filter((p) => only.includes(p.id)) } });
  return new Scheduler({ redisUrl: engine.url, connection: engine.connection, prefix: engine.prefix, runs, renewMs: 200, leaseMs: 1000, ...(now ? { now } : {}) });
}

/** Resolves when `count` runs of a pipeline have been made by the schedulers' ticks. */
function collectRuns(schedulers: Scheduler[], pipeline: string, count: number): { runs: string[]; done: Promise<void> } {
  const runs: string[] = [];
  const done = new Promise<void>((resolve) => {
    const onTick = (t: TickResult): void => {
      if (t.pipeline !== pipeline) return;
      runs.push(...t.runs);
      if (runs.length >= count) resolve();
    };
    for (const s of schedulers) s.on('tick', onTick);
  });
  return { runs, done };
}

const timeOf = (runId: string): number => {
  const k = runId.slice(runId.indexOf('.') + 1);
  return Date.parse(`${k.slice(0, 4)}-${k.slice(4, 6)}-${k.slice(6, 8)}T${k.slice(9, 11)}:${k.slice(11, 13)}:${k.slice(13, 15)}Z`);
};

describe('scheduler', () => {
  it('two replicas: one leader, exactly one run per tick, no tick missed', async () => {
    const a = scheduler(['replicas']);
    const b = scheduler(['replicas']);
    let leaders = 0;
    for (const s of [a, b]) s.on('leader', () => leaders++);
    const { runs, done } = collectRuns([a, b], 'replicas', 5);
    await Promise.all([a.start(), b.start()]);
    await done;
    await Promise.all([a.close(), b.close()]);
    expect(leaders).toBe(1);
    expect(new Set(runs).size).toBe(runs.length);
    const times = runs.map(timeOf).sort((x, y) => x - y);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, 'consecutive seconds').toBe(1000);
    const listed = await engine.reader.list('replicas', 1000);
    expect(new Set(listed)).toEqual(new Set(runs));
    expect(await engine.connection.zcard(`${engine.prefix}:ticks:repeat`)).toBe(1);
  });

  for (const [pipeline, expected] of [
    ['down-all', 'one run per missed tick'],
    ['down-latest', 'one run for the latest missed tick'],
  ] as const) {
    it(`down across ticks, catchup ${pipeline.slice(5)}: ${expected}`, async () => {
      const s = scheduler([pipeline]);
      const first = collectRuns([s], pipeline, 1);
      await s.start();
      await first.done;
      await s.close();
      // the scheduler was down for 6 s: rewind its clock, as if the ticks since had passed unseen
      const last = Number(await engine.connection.hget(lastTickKey(engine.prefix), pipeline));
      await engine.connection.hset(lastTickKey(engine.prefix), pipeline, last - 6000);
      const again = scheduler([pipeline]);
      const ticks: TickResult[] = [];
      const next = new Promise<void>((resolve) => again.on('tick', (t) => (ticks.push(t), resolve())));
      await again.start();
      await next;
      await again.close();
      const t = ticks[0]!;
      expect(t.runs.length).toBeGreaterThan(0);
      if (pipeline === 'down-all') {
        expect(t.runs.length).toBeGreaterThanOrEqual(6);
        expect(t.runs).toEqual(t.due.map((d) => `${pipeline}.${d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')}`));
        expect(t.runs.map(timeOf)).toEqual([...t.runs.map(timeOf)].sort((x, y) => x - y));
      } else {
        expect(t.runs).toHaveLength(1);
      }
    });
  }
});

describe('ticks on a simulated clock', () => {
  async function walk(pipeline: string, from: string, to: string, stepMs = 3_600_000): Promise<string[]> {
    const p = engine.runs.pipeline(pipeline);
    const s = scheduler([pipeline]);
    await engine.connection.hdel(lastTickKey(engine.prefix), pipeline);
    await s.ticks.init(pipeline, new Date(from));
    const made: string[] = [];
    for (let t = Date.parse(from); t <= Date.parse(to); t += stepMs) made.push(...(await s.ticks.handle(p, new Date(t))).runs);
    await s.close();
    return made.map((r) => new Date(timeOf(r)).toISOString());
  }

  it('daily 02:30 Europe/Berlin across spring-forward: one run a day; the missing 02:30 runs at 03:30', async () => {
    expect(await walk('daily', '2027-03-26T12:00:00Z', '2027-03-30T12:00:00Z')).toEqual([
      '2027-03-27T01:30:00.000Z', // 02:30 CET
      '2027-03-28T01:30:00.000Z', // 02:30 does not exist: 03:30 CEST
      '2027-03-29T00:30:00.000Z', // 02:30 CEST
      '2027-03-30T00:30:00.000Z',
    ]);
  });

  it('daily 02:30 Europe/Berlin across fall-back: one run a day; the twice-seen 02:30 runs once, the first time', async () => {
    expect(await walk('daily', '2027-10-29T12:00:00Z', '2027-11-01T12:00:00Z')).toEqual([
      '2027-10-30T00:30:00.000Z', // 02:30 CEST
      '2027-10-31T00:30:00.000Z', // first 02:30 (CEST); not again at 01:30Z (CET)
      '2027-11-01T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('weekly Sunday 02:30 Europe/Berlin: neither DST Sunday is skipped or doubled', async () => {
    expect(await walk('weekly', '2027-03-20T12:00:00Z', '2027-04-04T12:00:00Z')).toEqual([
      '2027-03-21T01:30:00.000Z',
      '2027-03-28T01:30:00.000Z',
      '2027-04-04T00:30:00.000Z',
    ]);
    expect(await walk('weekly', '2027-10-23T12:00:00Z', '2027-11-07T12:00:00Z')).toEqual([
      '2027-10-24T00:30:00.000Z',
      '2027-10-31T00:30:00.000Z',
      '2027-11-07T01:30:00.000Z',
    ]);
  });

  it('catchup after three missed days: all, latest, none', async () => {
    const results: Record<string, string[]> = {};
    for (const p of policies) {
      const s = scheduler([p.id]);
      await s.ticks.init(p.id, new Date('2027-06-07T04:00:00Z')); // Mon 06:00 Berlin is 04:00Z
      results[p.id] = (await s.ticks.handle(p, new Date('2027-06-10T07:00:00Z'))).runs.map((r) => new Date(timeOf(r)).toISOString());
      await s.close();
    }
    expect(results).toEqual({
      'catch-all': ['2027-06-08T04:00:00.000Z', '2027-06-09T04:00:00.000Z', '2027-06-10T04:00:00.000Z'],
      'catch-latest': ['2027-06-10T04:00:00.000Z'],
      'catch-none': [], // the latest tick is 3 h late: not on time
    });
    const onTime = policies[2]!;
    const s = scheduler([onTime.id]);
    const t = await s.ticks.handle(onTime, new Date('2027-06-11T04:01:00Z'));
    await s.close();
    expect(t.runs).toEqual(['catch-none.20270611T040000Z']);
  });

  it('a paused pipeline makes no runs; on resume its missed ticks follow catchup', async () => {
    const p = policies[0]!;
    const s = scheduler([p.id]);
    await engine.connection.hdel(lastTickKey(engine.prefix), p.id);
    await s.ticks.init(p.id, new Date('2027-07-01T05:00:00Z'));
    await engine.control.pause(p.id);
    const paused = await s.ticks.handle(p, new Date('2027-07-03T05:00:00Z'));
    expect(paused).toMatchObject({ skipped: 'paused', runs: [] });
    const resumed = await engine.control.resume(p.id, new Date('2027-07-03T05:00:00Z'));
    await s.close();
    expect(resumed.ticks.runs).toEqual(['catch-all.20270702T040000Z', 'catch-all.20270703T040000Z']);
  });
});
