/**
 * Failures: retries then success, a final failure failing the run without
 * starting dependents, bad payloads failing without retries, step timeouts
 * killing the subprocess tree, and exit codes with stderr in the error.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepJobData } from '../common/jobs.js';
import { ownedConnection } from '../common/redis.js';
import { definePipeline, shell, step, task } from '../flows/index.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { waitGone } from './helpers/process.js';
import { Recorder } from './helpers/recorder.js';
import { flakyTask } from './helpers/steps.js';

const rec = new Recorder();
let dir: string;

const flaky = definePipeline({
  id: 'flaky',
  steps: [
    flakyTask('wobbly'),
  ],
});

const breaks = task('breaks', {
  retries: 1,
  backoff: { type: 'fixed', delayMs: 10 },
  run: (ctx) => {
    rec.record(ctx.runId, 'breaks', 'start');
    throw new Error('warehouse said: table not found');
  },
});
const after = task('after', { dependsOn: [breaks], run: (ctx) => rec.record(ctx.runId, 'after', 'start') });
const alsoAfter = task('alsoAfter', { dependsOn: [breaks], run: (ctx) => rec.record(ctx.runId, 'alsoAfter', 'start') });
const independent = task('independent', {
  run: async (ctx) => {
    rec.record(ctx.runId, 'independent', 'start');
    await rec.latch(`independent:${ctx.runId}`);
    rec.record(ctx.runId, 'independent', 'end');
    return 'finished anyway';
  },
});
const laterBranch = task('laterBranch', { dependsOn: [independent], run: (ctx) => rec.record(ctx.runId, 'laterBranch', 'start') });
const failing = definePipeline({ id: 'failing', steps: [breaks, after, alsoAfter, independent, laterBranch] });

const exits = definePipeline({
  id: 'exits',
  steps: [step('boom', shell, { argv: ['sh', '-c', 'echo starting; echo "syntax error at line 3" >&2; exit 3'] })],
});

const slow = definePipeline({
  id: 'slow',
  params: { dir: { type: 'string' } },
  steps: [
    step(
      'sleepy',
      shell,
      ({ params }) => ({ argv: ['sh', '-c', `sleep 30 & echo $! > ${String(params.dir)}/child.pid; echo $$ > ${String(params.dir)}/sh.pid; wait`] }),
      { timeoutMs: 1000 },
    ),
  ],
});

let engine: TestEngine;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bullpen-fail-'));
  engine = await createEngine({ label: 'fail', pipelines: [flaky, failing, exits, slow] });
  await engine.worker({ concurrency: 4 });
});
afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('failures', () => {
  it('retries a failing step, then succeeds', async () => {
    const run = await engine.runToEnd('flaky');
    expect(run.status).toBe('succeeded');
    expect(run.steps[0]).toMatchObject({ status: 'succeeded', attempts: 3, output: 3 });
  });

  it('a final failure fails the run; dependents never start; a running independent step finishes', async () => {
    const events = new QueueEvents('step.task@cpu', { connection: ownedConnection(engine.url), prefix: engine.prefix });
    await events.waitUntilReady();
    const failures = new Map<string, string>();
    const failedEvent = (jobId: string): Promise<string> =>
      new Promise((resolve) => {
        const check = (): void => void (failures.has(jobId) && resolve(failures.get(jobId)!));
        events.on('failed', () => check());
        check();
      });
    events.on('failed', ({ jobId, failedReason }) => failures.set(jobId, failedReason));
    const { runId } = await engine.runs.start('failing');
    await rec.waitFor((e) => e.runId === runId && e.step === 'independent' && e.what === 'start');
    const failed = await engine.watcher.wait(runId, 20_000);
    expect(failed.status).toBe('failed');
    await failedEvent(`${runId}.alsoAfter`); // failed by BullMQ through its gate, a moment after the run
    const mid = Object.fromEntries((await engine.reader.get(runId))!.steps.map((s) => [s.id, s]));
    expect(mid.breaks).toMatchObject({ status: 'failed', attempts: 2, error: 'warehouse said: table not found' });
    expect(mid.after).toMatchObject({ status: 'skipped', attempts: 0, error: 'dependency breaks failed' });
    expect(mid.alsoAfter).toMatchObject({ status: 'skipped', attempts: 0, error: 'dependency breaks failed' });
    expect(mid.independent!.status).toBe('running');
    // release the independent step: it completes, and the step after it is skipped, not run
    rec.open(`independent:${runId}`);
    expect(await failedEvent(`${runId}.laterBranch`)).toBe(`skipped: run ${runId} already failed`);
    await events.close();
    const fin = Object.fromEntries((await engine.reader.get(runId))!.steps.map((s) => [s.id, s]));
    expect(fin.independent).toMatchObject({ status: 'succeeded', output: 'finished anyway' });
    expect(fin.laterBranch!.status).toBe('skipped');
    expect(rec.of(runId, 'breaks', 'start')).toHaveLength(2);
    for (const s of ['after', 'alsoAfter', 'laterBranch']) expect(rec.of(runId, s, 'start'), s).toHaveLength(0);
  });

  it('a program that exits non-zero fails with the exit code and the stderr tail', async () => {
    const run = await engine.runToEnd('exits');
    expect(run.status).toBe('failed');
    expect(run.steps[0]!.error).toBe('sh exited with code 3; stderr (last lines):\nsyntax error at line 3');
    const logs = await engine.reader.logs(run.steps[0]!.queue, run.steps[0]!.jobId);
    expect(logs).toEqual(['starting', '[stderr] syntax error at line 3']);
  });

  it('a step past its timeout is aborted and its whole process tree killed', async () => {
    const run = await engine.runToEnd('slow', { dir });
    expect(run.status).toBe('failed');
    expect(run.steps[0]!.error).toBe('step timed out after 1000 ms');
    const pids = await Promise.all(['sh.pid', 'child.pid'].map(async (f) => Number(await readFile(join(dir, f), 'utf8'))));
    await Promise.all(pids.map((pid) => waitGone(pid, 5000)));
  });

  it('a bad payload fails its job at once, without retries', async () => {
    const queue = new Queue<StepJobData>('step.shell@cpu', { connection: engine.connection, prefix: engine.prefix });
    const events = new QueueEvents('step.shell@cpu', { connection: ownedConnection(engine.url), prefix: engine.prefix });
    await events.waitUntilReady();
    const job = await queue.add(
      'bad',
      { runId: 'none.x', root: 'none.x', pipeline: 'none', stepId: 'bad', type: 'shell', input: { argv: 'rm -rf /' }, params: {}, logicalTime: '', dataInterval: { start: '', end: '' }, deps: {}, gates: [] },
      { attempts: 5 },
    );
    await job.waitUntilFinished(events, 10_000).then(
      () => expect.fail('bad payload completed'),
      (err: Error) => expect(err.message).toBe('invalid input for step type shell: input.argv: Invalid input: expected array, received string'),
    );
    const fresh = await queue.getJob(job.id!);
    expect(fresh?.attemptsMade).toBe(1);
    await Promise.all([events.close(), queue.close()]);
  });
});
