/**
 * The `transform` step: a Python script, a Node script (argv, no shell: a
 * file name with spaces and quotes stays one argument) and a TypeScript
 * function, each over local copies of input files, their outputs uploaded;
 * clear errors for a missing output and an unknown placeholder.
 */
import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, step, transform, transformFn, type StepInput } from '../flows/index.js';
import { loadBackendConfig } from '../common/backend-config.js';
import { createBackends, type Backends } from '../workers/backends/index.js';
import { builtinRegistry } from '../workers/builtin.js';
import { transformHandler } from '../workers/steps/transform.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { stepContext } from './helpers/step-context.js';

type TransformInput = StepInput<typeof transform>;
const dir = mkdtempSync(join(tmpdir(), 'bullpen-transform-'));
const backends: Backends = createBackends(loadBackendConfig({ duckdbPath: join(dir, 'w.duckdb'), localStoreDir: join(dir, 'objects'), python: '/usr/bin/python3' }, {}));
const inputUri = backends.store().uri('inputs/events.ndjson');

beforeAll(async () => {
  const src = join(dir, 'events.ndjson');
  await writeFile(src, '{"user_id":1,"item_id":10,"event":"view","ts":"2026-11-01 10:00:00"}\n{"user_id":1,"item_id":10,"event":"purchase","ts":"2026-11-02 10:00:00"}\n{"user_id":2,"item_id":11,"event":"click","ts":"2026-11-03 10:00:00"}\n');
  await backends.store().upload(src, 'inputs/events.ndjson');
});
afterAll(async () => {
  await backends.close();
  await rm(dir, { recursive: true, force: true });
});

const read = async (uri: string): Promise<string> => readFile(fileURLToPath(uri), 'utf8');

describe('transform step', () => {
  it('runs a Python script with local input and output paths', async () => {
    const script = fileURLToPath(new URL('../pipelines/weekly-recommendations/prepare.py', import.meta.url));
    const ctx = stepContext<TransformInput>(
      { inputs: { events: { from: 'extract' } }, outputs: { clean: 'clean.ndjson' }, script: { language: 'python', path: script, args: ['{input.events}', '{output.clean}', '--min-events', '1'] } },
      { stepId: 'prepare', deps: { extract: { uri: inputUri } } },
    );
    const out = await transformHandler(backends, [])(ctx);
    expect(out.uri).toMatch(/\/runs\/test\/test-run\/prepare\/clean.ndjson$/);
    expect(out.files).toEqual({ clean: out.uri });
    expect((await read(out.uri)).trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { user_id: 1, item_id: 10, weight: 4, ts: '2026-11-02 10:00:00' },
      { user_id: 2, item_id: 11, weight: 2, ts: '2026-11-03 10:00:00' },
    ]);
    expect(ctx.lines).toContain('3 events (0 of unknown type) -> 2 user-item rows');
  });

  it('runs a Node script with argv as given (no shell) and BULLPEN_* file variables', async () => {
    const script = join(dir, 'count.mjs');
    await writeFile(
      script,
      "import { readFileSync, writeFileSync } from 'node:fs';\n" +
        "const [input, output, label] = process.argv.slice(2);\n" +
        "const n = readFileSync(input, 'utf8').trim().split('\\n').length;\n" +
        "writeFileSync(output, JSON.stringify({ n, label, env: process.env.BULLPEN_INPUT_EVENTS === input, run: process.env.BULLPEN_RUN_ID }) + '\\n');\n",
    );
    const label = `it's "$(echo not run)"; rm -rf /`;
    const ctx = stepContext<TransformInput>({ inputs: { events: inputUri }, outputs: { counts: 'counts.json' }, script: { language: 'node', path: script, args: ['{input.events}', '{output.counts}', label] } });
    const out = await transformHandler(backends, [])(ctx);
    expect(JSON.parse(await read(out.files.counts!))).toEqual({ n: 3, label, env: true, run: 'test-run' });
  });

  it('fails clearly when an output is not written, or an argument names no input', async () => {
    const script = join(dir, 'nothing.mjs');
    await writeFile(script, '');
    await expect(transformHandler(backends, [])(stepContext<TransformInput>({ inputs: {}, outputs: { x: 'x.ndjson' }, script: { language: 'node', path: script } }))).rejects.toThrow(
      /^output "x" was not written \(expected the script to write .*\/out\/x.ndjson\)$/,
    );
    await expect(
      transformHandler(backends, [])(stepContext<TransformInput>({ inputs: {}, outputs: { x: 'x.ndjson' }, script: { language: 'node', path: script, args: ['{input.evnts}'] } })),
    ).rejects.toThrow('input.script.args.0: {input.evnts} names no input (inputs: none)');
  });

  describe('a TypeScript function, through a worker', () => {
    let engine: TestEngine;
    const upper = transformFn('upper', {
      inputs: { events: inputUri },
      outputs: { upper: 'upper.txt' },
      run: async ({ inputs, outputs, log }) => {
        const text = await readFile(inputs.events!, 'utf8');
        await writeFile(outputs.upper!, text.toUpperCase());
        log(`upper-cased ${text.length} characters`);
      },
    });
    const pipeline = definePipeline({ id: 'ts-transform', steps: [upper, step('after', transform, { inputs: { u: { from: 'upper' } }, outputs: { n: 'n.txt' } }, { dependsOn: [upper] })] });

    beforeAll(async () => {
      engine = await createEngine({ label: 'transform', pipelines: [pipeline], registry: builtinRegistry([pipeline], backends) });
      await engine.worker();
    });
    afterAll(async () => engine?.close());

    it('runs the function over the files; a transform with neither script nor function fails clearly', async () => {
      const run = await engine.runToEnd('ts-transform');
      const [first, second] = run.steps;
      expect(first).toMatchObject({ id: 'upper', status: 'succeeded' });
      expect(await read((first!.output as { uri: string }).uri)).toContain('"EVENT":"PURCHASE"');
      expect(await engine.reader.logs(first!.queue, first!.jobId)).toContain('upper-cased 212 characters');
      expect(second).toMatchObject({ status: 'failed', error: "transform step after has neither input.script nor a TypeScript function in this worker's pipelines" });
    });
  });
});
