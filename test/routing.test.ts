/**
 * GPU routing: a step with `resources: { gpu: n }` goes to the GPU pool's
 * queue; a CPU worker never takes it, and a GPU worker takes nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, task, taskType } from '../flows/index.js';
import { StepRegistry } from '../workers/registry.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
const pools = new Map<string, string>();
const where = (pool: string) => (ctx: { runId: string; stepId: string }) => {
  pools.set(`${ctx.runId}/${ctx.stepId}`, pool);
  return ctx.stepId;
};

const prep = task('prep', { run: () => 'prepared' });
const train = task('train', { dependsOn: [prep], resources: { gpu: 1 }, run: () => 'trained' });
const publish = task('publish', { dependsOn: [train], run: () => 'published' });
const ml = definePipeline({ id: 'ml', maxActiveRuns: 5, steps: [prep, train, publish] });

let engine: TestEngine;
beforeAll(async () => {
  engine = await createEngine({ label: 'gpu', pipelines: [ml] });
});
afterAll(() => engine.close());

describe('GPU routing', () => {
  it('compiles GPU steps onto the GPU queue', async () => {
    const { runId } = await engine.runs.start('ml');
    const run = await engine.reader.get(runId);
    expect(run!.steps.map((s) => [s.id, s.queue])).toEqual([
      ['prep', 'step.task@cpu'],
      ['train', 'step.task@gpu'],
      ['publish', 'step.task@cpu'],
    ]);
  });

  it('a CPU worker leaves GPU steps alone; a GPU worker takes only them', async () => {
    // each pool's registry tags what it ran
    const tagged = (pool: string) => new StepRegistry().register(taskType, async (ctx) => where(pool)(ctx));

    const cpu = await engine.worker({ pool: 'cpu', registry: tagged('cpu') });
    expect(cpu.queues.filter((q) => q.startsWith('step.'))).toEqual(['step.task@cpu']);
    const { runId } = await engine.runs.start('ml');
    await engine.stepFinished(runId, 'prep');
    // prep's completion released train onto the GPU queue; with no GPU worker it waits there
    const queued = await engine.reader.get(runId);
    expect(queued!.steps.map((s) => s.status)).toEqual(['succeeded', 'queued', 'pending']);
    await cpu.close(0);

    const gpu = await engine.worker({ pool: 'gpu', registry: tagged('gpu') });
    expect(gpu.queues.filter((q) => q.startsWith('step.'))).toEqual(['step.task@gpu']);
    await engine.stepFinished(runId, 'train');
    // publish is a CPU step: the GPU worker does not take it
    const afterTrain = await engine.reader.get(runId);
    expect(afterTrain!.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'queued']);

    await engine.worker({ pool: 'cpu', registry: tagged('cpu') });
    const done = await engine.watcher.wait(runId, 20_000);
    expect(done.status).toBe('succeeded');
    expect(['prep', 'train', 'publish'].map((s) => pools.get(`${runId}/${s}`))).toEqual(['cpu', 'gpu', 'cpu']);
    await gpu.close(0);
  });
});
