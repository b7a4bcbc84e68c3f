/**
 * The scheduling and control commands of the real binary: listings with
 * --json, backfill (dry run, progress, idempotence), pause/resume, and bad
 * input — a clear message, exit code 2, nothing enqueued.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../common/redis.js';
import { runCli, type CliEnv } from './helpers/cli.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from './helpers/engine.js';

let env: CliEnv;
let redis: Redis;
beforeAll(() => {
  env = { redisUrl: testRedisUrl(), prefix: uniquePrefix('cli-sched'), pipelines: 'test/fixtures/scheduled' };
  redis = connect(env.redisUrl);
});
afterAll(async () => {
  await deletePrefix(redis, env.prefix);
  await redis.quit();
});

// queue meta keys (written when a Queue object opens) hold no job
const keys = async (): Promise<string[]> => (await redis.keys(`${env.prefix}:*`)).filter((k) => !k.endsWith(':meta'));

describe('bullpen CLI: scheduling and control', () => {
  it('bad input exits 2 with a clear message and enqueues nothing', async () => {
    const cases: [string[], string][] = [
      [['backfill', 'nightly', '--from', '2026-03-01', '--to', '2026-02-01'], 'error: --from 2026-03-01T00:00:00.000Z is after --to 2026-02-01T23:59:59.999Z'],
      [['backfill', 'nightly', '--from', 'yesterday', '--to', '2026-02-01'], 'error: --from yesterday: not a date (use ISO 8601, e.g. 2026-11-30 or 2026-11-30T06:00:00Z)'],
      [['backfill', 'nope', '--from', '2026-01-01', '--to', '2026-02-01'], 'error: unknown pipeline "nope" (known: nightly)'],
      [['backfill', 'nightly', '--from', '2026-01-01', '--to', '2026-02-01', '-p', 'limit=ten'], 'error: pipeline nightly: param "limit": expected int, got "ten"'],
      [['run', 'nightly', '--logical-date', '2026-13-45'], 'error: --logical-date 2026-13-45: not a date (use ISO 8601, e.g. 2026-11-30 or 2026-11-30T06:00:00Z)'],
      [['retry', 'nightly.nope'], 'error: unknown run "nightly.nope"'],
      [['cancel', 'nightly.nope'], 'error: unknown run "nightly.nope"'],
      [['pause', 'nope'], 'error: unknown pipeline "nope" (known: nightly)'],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, env);
      expect(r.stderr.trim(), args.join(' ')).toBe(message);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(await keys()).toEqual([]);
  });

  it('backfill: dry run lists ticks; a run creates them once, with plain progress lines off a terminal', async () => {
    const dry = await runCli(['backfill', 'nightly', '--from', '2026-03-07', '--to', '2026-03-10', '--dry-run'], env);
    expect(dry.code).toBe(0);
    // 03:00 New York: EST (08:00Z) until the 8 March 2026 change, then EDT (07:00Z)
    expect(dry.stdout).toBe(
      '2026-03-07T08:00:00.000Z\n2026-03-08T07:00:00.000Z\n2026-03-09T07:00:00.000Z\n2026-03-10T07:00:00.000Z\ndry run: 4 ticks of nightly; nothing created\n',
    );
    expect(await keys()).toEqual([]);
    const first = await runCli(['backfill', 'nightly', '--from', '2026-01-01', '--to', '2026-03-31'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^backfill nightly: 50\/90\nbackfill nightly: 90\/90\nbackfill nightly: 90 runs created, 0 already existed, in \d+ ms\n$/);
    const again = await runCli(['backfill', 'nightly', '--from', '2026-01-01', '--to', '2026-03-31', '--json'], env);
    const json = JSON.parse(again.stdout) as { created: string[]; existing: string[]; ticks: string[] };
    expect(json.created).toEqual([]);
    expect(json.existing).toHaveLength(90);
    // runs list: newest first; the first tick holds the slot (queued), the others wait for it
    const listed = JSON.parse((await runCli(['runs', 'list', 'nightly', '-n', '2', '--json'], env)).stdout) as Record<string, unknown>[];
    expect(listed.map((r) => r.status)).toEqual(['waiting', 'waiting']);
    const all = JSON.parse((await runCli(['runs', 'list', 'nightly', '-n', '100', '--json'], env)).stdout) as { runId: string; status: string; trigger: string }[];
    expect(all).toHaveLength(90);
    expect(all.find((r) => r.runId === 'nightly.20260101T080000Z')).toMatchObject({ status: 'queued', trigger: 'backfill' });
    expect(all.filter((r) => r.status === 'queued')).toHaveLength(1);
  });

  it('pipelines --json shows schedule in words, next run, last run and the paused flag', async () => {
    expect((await runCli(['pause', 'nightly'], env)).stdout).toBe('paused nightly: its schedule makes no runs until resumed\n');
    const listed = JSON.parse((await runCli(['pipelines', '--json'], env)).stdout) as Record<string, unknown>[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: 'nightly',
      owner: 'data-eng',
      cron: '0 3 * * *',
      tz: 'America/New_York',
      schedule: 'At 03:00 (America/New_York)',
      nextRun: null,
      paused: true,
      catchup: 'latest',
      maxActiveRuns: 1,
      lastRun: { runId: 'nightly.20260331T070000Z', status: 'waiting', logicalTime: '2026-03-31T07:00:00.000Z' },
    });
    const resumed = await runCli(['resume', 'nightly'], env);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toBe('resumed nightly\n');
    const after = JSON.parse((await runCli(['pipelines', '--json'], env)).stdout) as { paused: boolean; nextRun: string }[];
    expect(after[0]!.paused).toBe(false);
    expect(Date.parse(after[0]!.nextRun)).toBeGreaterThan(Date.now());
  });

  it('retrying a run that did not fail exits 2', async () => {
    const r = await runCli(['retry', 'nightly.20260101T080000Z'], env);
    expect(r.stderr.trim()).toBe('error: run nightly.20260101T080000Z is queued: only a failed run can be retried');
    expect(r.code).toBe(2);
  });
});
