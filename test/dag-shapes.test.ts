/**
 * DAG shapes on real Redis and BullMQ: every step runs exactly once per run,
 * starts only after all of its own dependencies ended, and sees their outputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, task, type StepDefinition } from '../flows/index.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { Recorder } from './helpers/recorder.js';

const rec = new Recorder();

/** A task that records start/end and returns `{ id, saw: [dep ids it received] }`. */
function node(id: string, deps: string[] = []): StepDefinition {
  return task(id, {
    dependsOn: deps,
    run: (ctx) => {
      rec.record(ctx.runId, id, 'start');
      const saw = Object.keys(ctx.deps as Record<string, unknown>).sort();
      const values = Object.values(ctx.deps as Record<string, { id: string }>).map((v) => v.id).sort();
      rec.record(ctx.runId, id, 'end');
      return { id, saw, values };
    },
  });
}

function shape(id: string, edges: Record<string, string[]>) {
  return definePipeline({ id, steps: Object.entries(edges).map(([s, deps]) => node(s, deps)) });
}

const wide = { src: [], ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`w${i}`, ['src']])), sink: Array.from({ length: 100 }, (_, i) => `w${i}`) };
const deep = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`d${i}`, i ? [`d${i - 1}`] : []]));

const SHAPES: Record<string, Record<string, string[]>> = {
  chain: { a: [], b: ['a'], c: ['b'], d: ['c'] },
  fanin: { a: [], b: [], c: [], join: ['a', 'b', 'c'] },
  fanout: { src: [], x: ['src'], y: ['src'], z: ['src'] },
  diamond: { top: [], left: ['top'], right: ['top'], bottom: ['left', 'right'] },
  // two shared steps, a skip edge and two sinks
  mesh: { a: [], b: ['a'], c: ['a', 'b'], d: ['b', 'c'], e: ['a', 'd'], f: ['c'] },
  wide,
  deep,
};

let engine: TestEngine;

beforeAll(async () => {
  engine = await createEngine({ label: 'dag', pipelines: Object.entries(SHAPES).map(([id, e]) => shape(id, e)) });
  await engine.worker({ concurrency: 20 });
});
afterAll(() => engine.close());

describe('DAG shapes', () => {
  for (const [name, edges] of Object.entries(SHAPES)) {
    it(`${name}: each step once, after its own dependencies, with their outputs`, async () => {
      const run = await engine.runToEnd(name, {}, 60_000);
      expect(run.status).toBe('succeeded');
      for (const [id, deps] of Object.entries(edges)) {
        const starts = rec.of(run.runId, id, 'start');
        expect(starts, `${id} runs once`).toHaveLength(1);
        for (const dep of deps) {
          const depEnd = rec.of(run.runId, dep, 'end')[0]!;
          expect(depEnd.seq, `${id} starts after ${dep} ended`).toBeLessThan(starts[0]!.seq);
        }
        const step = run.steps.find((s) => s.id === id)!;
        expect(step.status).toBe('succeeded');
        expect(step.attempts).toBe(1);
        expect(step.output).toEqual({ id, saw: [...deps].sort(), values: [...deps].sort() });
      }
    });
  }

  it('a step starts when its own dependencies are done, not when an unrelated branch is', async () => {
    const slow = task('slow', {
      run: async (ctx) => {
        rec.record(ctx.runId, 'slow', 'start');
        await rec.latch(`slow:${ctx.runId}`);
        return 'slow done';
      },
    });
    const p = definePipeline({ id: 'independent', steps: [slow, node('a'), node('b', ['a']), node('c', ['b'])] });
    const e = await createEngine({ label: 'indep', pipelines: [p] });
    try {
      await e.worker({ concurrency: 4 });
      const { runId } = await e.runs.start('independent');
      await rec.waitFor((ev) => ev.runId === runId && ev.step === 'c' && ev.what === 'end');
      const mid = await e.reader.get(runId);
      expect(mid?.steps.find((s) => s.id === 'slow')?.status).toBe('running');
      expect(mid?.status).toBe('running');
      rec.open(`slow:${runId}`);
      const run = await e.watcher.wait(runId, 20_000);
      expect(run.status).toBe('succeeded');
    } finally {
      await e.close();
    }
  });

  it('many runs of a diamond at once: still once per step per run', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, () => engine.runs.start('diamond')));
    const runs = await Promise.all(ids.map(({ runId }) => engine.watcher.wait(runId, 60_000)));
    for (const run of runs) {
      expect(run.status).toBe('succeeded');
      for (const s of ['top', 'left', 'right', 'bottom']) expect(rec.of(run.runId, s, 'start')).toHaveLength(1);
    }
  });
});
