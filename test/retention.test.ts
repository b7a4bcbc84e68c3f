/**
 * Retention: finished runs beyond a pipeline's `keepRuns` are removed with
 * every job of theirs, so Redis memory stays bounded; unfinished runs stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, task } from '../flows/index.js';
import { scanKeys } from '../common/redis.js';
import { createEngine, type TestEngine } from './helpers/engine.js';

const a = task('a', { run: () => 'a' });
const b = task('b', { run: () => 'b' });
const c = task('c', { dependsOn: [a, b], run: () => 'c' });
const kept = definePipeline({ id: 'kept', retention: { keepRuns: 3 }, steps: [a, b, c] });

let engine: TestEngine;
beforeAll(async () => {
  engine = await createEngine({ label: 'retain', pipelines: [kept] });
});
afterAll(() => engine.close());

async function keysOf(runId: string): Promise<string[]> {
  return scanKeys(engine.connection, `${engine.prefix}:*${runId}*`);
}

describe('retention', () => {
  it('keeps the newest keepRuns finished runs and removes older ones with all their jobs', async () => {
    await engine.worker();
    const finished: string[] = [];
    for (let i = 0; i < 3; i++) finished.push((await engine.runToEnd('kept')).runId);
    expect((await keysOf(finished[0]!)).length).toBeGreaterThan(3); // root, steps, gate, logs
    // each new run's creation trims the oldest finished one: 3 kept
    for (let i = 0; i < 2; i++) finished.push((await engine.runToEnd('kept')).runId);
    expect(await engine.reader.list('kept')).toEqual([finished[4], finished[3], finished[2]]);
    for (const old of finished.slice(0, 2)) {
      expect(await engine.reader.get(old)).toBeUndefined();
      expect(await keysOf(old), `keys left of ${old}`).toEqual([]);
    }
    expect((await engine.reader.get(finished[2]!))?.status).toBe('succeeded');
  });

  it('never removes an unfinished run', async () => {
    const e = await createEngine({ label: 'retain2', pipelines: [kept] });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await e.runs.start('kept')).runId);
      // no worker: the first is queued, the others wait for its slot; none is trimmed
      expect(await e.reader.list('kept')).toHaveLength(5);
      const statuses = await Promise.all(ids.map(async (id) => (await e.reader.get(id))?.status));
      expect(statuses).toEqual(['queued', 'waiting', 'waiting', 'waiting', 'waiting']);
    } finally {
      await e.close();
    }
  });
});
