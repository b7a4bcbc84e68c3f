/**
 * Worker processes under signals: SIGTERM lets active steps finish, or hands
 * them back after the grace period; a worker killed with SIGKILL mid-step
 * loses nothing (another worker retries the step after the stall check);
 * --max-jobs exits after n steps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Queue, QueueEvents } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ownedConnection } from '../common/redis.js';
import { loadPipelines } from '../flows/index.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { startCli, type LongCommand } from './helpers/cli.js';

const FIXTURES = 'test/fixtures/procs';
let engine: TestEngine;
let dir: string;
let events: QueueEvents;
const procs: LongCommand[] = [];

beforeAll(async () => {
  const { pipelines } = await loadPipelines(FIXTURES);
  engine = await createEngine({ label: 'procs', pipelines });
  events = new QueueEvents('step.shell@cpu', { connection: ownedConnection(engine.url), prefix: engine.prefix });
  await events.waitUntilReady();
});
afterAll(async () => {
  await events.close();
  await engine.close();
});
afterEach(async () => {
  for (const p of procs.splice(0)) p.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function worker(extraArgs: string[] = [], env: Record<string, string> = {}): LongCommand {
  const p = startCli(['worker', '--pool', 'cpu', ...extraArgs], {
    redisUrl: engine.url,
    prefix: engine.prefix,
    pipelines: FIXTURES,
    extra: { BULLPEN_LOCK_DURATION_MS: '2000', BULLPEN_STALLED_INTERVAL_MS: '1000', ...env },
  });
  procs.push(p);
  return p;
}

/** Resolves when the job becomes active (or already is). */
async function active(jobId: string): Promise<void> {
  const seen = new Promise<void>((resolve) => events.on('active', (e) => e.jobId === jobId && resolve()));
  const queue = new Queue('step.shell@cpu', { connection: engine.connection, prefix: engine.prefix });
  const state = await (await Job.fromId(queue, jobId))?.getState();
  await queue.close();
  if (state !== 'active') await seen;
}

async function startResumable(sleep: number): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'bullpen-procs-'));
  const { runId } = await engine.runs.start('resumable', { params: { dir, sleep } });
  return runId;
}

describe('worker processes', () => {
  it('SIGTERM: an active step finishes within the grace period, then the worker exits 0', async () => {
    const runId = await startResumable(1);
    const w = worker();
    await w.waitForLine(/worker ready/);
    await active(`${runId}.work`);
    expect((await w.stop('SIGTERM')).code).toBe(0);
    const run = await engine.reader.get(runId);
    expect(run!.steps[0]).toMatchObject({ status: 'succeeded', attempts: 1, output: { stdoutTail: 'slept' } });
  });

  it('SIGTERM: past the grace period the step is handed back, not failed, and another worker runs it', async () => {
    const runId = await startResumable(30);
    const w = worker([], { BULLPEN_SHUTDOWN_GRACE_MS: '300' });
    await w.waitForLine(/worker ready/);
    await active(`${runId}.work`);
    expect((await w.stop('SIGTERM')).code).toBe(0);
    const handedBack = await engine.reader.get(runId);
    expect(handedBack!.steps[0]).toMatchObject({ status: 'queued', attempts: 0 });
    const w2 = worker();
    const run = await engine.watcher.wait(runId, 20_000);
    expect(run.status).toBe('succeeded');
    expect(run.steps[0]).toMatchObject({ attempts: 1, output: { stdoutTail: 'resumed' } });
    expect((await w2.stop('SIGTERM')).code).toBe(0);
  });

  it('SIGKILL mid-step: the run still completes on another worker', async () => {
    const runId = await startResumable(30);
    const w1 = worker();
    await w1.waitForLine(/worker ready/);
    await active(`${runId}.work`);
    const w2 = worker();
    await w2.waitForLine(/worker ready/);
    expect((await w1.stop('SIGKILL')).signal).toBe('SIGKILL');
    const run = await engine.watcher.wait(runId, 30_000);
    expect(run.status).toBe('succeeded');
    expect(run.steps[0]!.output).toMatchObject({ stdoutTail: 'resumed' });
    expect((await w2.stop('SIGTERM')).code).toBe(0);
  });

  it('--max-jobs counts steps run, not the re-checks of a step still waiting for its dependencies', async () => {
    const { runId } = await engine.runs.start('awaiting');
    const w = worker(['--max-jobs', '3', '--concurrency', '2']);
    expect((await w.exited()).code).toBe(0);
    const run = await engine.reader.get(runId);
    expect(run!.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['slow', 'succeeded', 1],
      ['early', 'succeeded', 1],
      ['late', 'succeeded', 1],
    ]);
  });

  it('--max-jobs n: the worker exits 0 after n steps and leaves the rest queued', async () => {
    const { runId } = await engine.runs.start('three');
    const w = worker(['--max-jobs', '2', '--concurrency', '1']);
    expect((await w.exited()).code).toBe(0);
    const run = await engine.reader.get(runId);
    const statuses = run!.steps.map((s) => s.status).sort();
    expect(statuses).toEqual(['queued', 'succeeded', 'succeeded']);
  });
});
