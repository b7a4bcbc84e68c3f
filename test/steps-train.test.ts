/**
 * The `train` step with a real PyTorch script (pipelines/weekly-recommendations/
 * train_mf.py and small inline scripts): device passed through, output
 * streamed to the log, progress from `@bullpen` lines, metrics from the file
 * or a line, the artifact uploaded; a script exiting non-zero fails the step
 * with its exit code and the last lines of stderr, also through a real worker.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, step, train, type StepInput } from '../flows/index.js';
import type { Backends } from '../workers/backends/index.js';
import { builtinRegistry } from '../workers/builtin.js';
import { ProcessExitError, StepError } from '../workers/errors.js';
import { trainHandler } from '../workers/steps/train.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { localBackends, stepContext } from './helpers/step-context.js';
import { torchSkipReason } from './helpers/torch.js';

const skip = await torchSkipReason();
if (skip) console.warn(`SKIPPED steps-train: ${skip}`);
const script = fileURLToPath(new URL('../pipelines/weekly-recommendations/train_mf.py', import.meta.url));
type TrainInput = StepInput<typeof train>;

describe.skipIf(skip !== undefined)('train step', () => {
  let backends: Backends;
  let dir: string;
  beforeAll(async () => ({ backends, dir } = await localBackends()));
  afterAll(async () => {
    await backends.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('trains with torch on the device it finds, streams output, reports progress, reads metrics and uploads the artifact', async () => {
    const ctx = stepContext<TrainInput>({ script, args: ['--epochs', '3', '--synthetic-users', '200', '--synthetic-items', '80'] }, { stepId: 'train' });
    const out = await trainHandler(backends)(ctx);
    expect(out.device).toBe('cpu'); // this machine has no GPU: auto → cpu
    expect(out.python).toBe('/usr/bin/python3');
    expect(ctx.lines).toContain('200 users, 80 items, 3800 train / 200 test examples');
    expect(ctx.lines.some((l) => l.startsWith('device cpu'))).toBe(true);
    expect(ctx.progresses).toEqual([1, 2, 3].map((epoch) => expect.objectContaining({ epoch, progress: Number((epoch / 3).toFixed(3)) })));
    expect(out.metrics).toMatchObject({ epochs: 3, users: 200, items: 80, random_recall_at_k: 0.125 });
    expect(out.metrics.recall_at_10).toBeGreaterThanOrEqual(0);
    expect(Object.keys(out.files).sort()).toEqual(['metrics.json', 'model', 'model.pt']);
    expect(out.uri).toBe(out.files['model.pt']);
    expect(out.uri).toMatch(/^file:\/\/.*\/runs\/test\/test-run\/train\/model.pt$/);
    expect(JSON.parse(await readFile(fileURLToPath(out.files['metrics.json']!), 'utf8'))).toEqual(out.metrics);
  });

  it('takes metrics from a @bullpen line when there is no metrics file, and passes input files', async () => {
    const inline = join(dir, 'line_metrics.py');
    await writeFile(
      inline,
      [
        'import argparse, json, os, torch',
        'p = argparse.ArgumentParser(); p.add_argument("--device"); p.add_argument("--output-dir"); p.add_argument("--data"); a = p.parse_args()',
        'rows = open(a.data).read().split()',
        'torch.save({"w": torch.ones(2)}, os.path.join(a.output_dir, "model.pt"))',
        'print("@bullpen " + json.dumps({"metrics": {"rows": len(rows), "on_cuda": int(a.device == "cuda")}}))',
      ].join('\n'),
    );
    const data = await backends.store().upload(inline, 'inputs/data.txt');
    const ctx = stepContext<TrainInput>({ script: inline, device: 'cpu', inputs: { data: { from: 'extract' } } }, { deps: { extract: { uri: data } } });
    const out = await trainHandler(backends)(ctx);
    expect(out.metrics).toEqual({ rows: expect.any(Number), on_cuda: 0 });
    expect(out.metrics.rows).toBeGreaterThan(5);
  });

  it('fails clearly without metrics or without the artifact', async () => {
    const noMetrics = join(dir, 'no_metrics.py');
    await writeFile(noMetrics, 'import sys, os\nout = sys.argv[sys.argv.index("--output-dir") + 1]\nopen(os.path.join(out, "model.pt"), "w").write("x")\n');
    await expect(trainHandler(backends)(stepContext<TrainInput>({ script: noMetrics }))).rejects.toThrow(
      `${noMetrics} reported no metrics: write metrics.json in the output folder or print a line "@bullpen {"metrics": {…}}"`,
    );
    const noModel = join(dir, 'no_model.py');
    await writeFile(noModel, 'print(\'@bullpen {"metrics": {"a": 1}}\')\n');
    await expect(trainHandler(backends)(stepContext<TrainInput>({ script: noModel }))).rejects.toThrow(`${noModel} did not write its artifact model.pt in the output folder (--output-dir)`);
  });

  it('refuses device cuda where torch sees no GPU, naming the interpreter', async () => {
    const err = (await trainHandler(backends)(stepContext<TrainInput>({ script, device: 'cuda' })).catch((e: unknown) => e)) as StepError;
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^input.device is cuda, but torch .* \(\/usr\/bin\/python3\) sees no GPU on this worker$/);
  });

  it('a script exiting non-zero fails with the exit code and the last lines of stderr', async () => {
    const err = (await trainHandler(backends)(stepContext<TrainInput>({ script, args: ['--fail-with', 'CUDA out of memory (pretend)'] })).catch((e: unknown) => e)) as ProcessExitError;
    expect(err).toBeInstanceOf(ProcessExitError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe('/usr/bin/python3 exited with code 3; stderr (last lines):\nCUDA out of memory (pretend)');
  });

  describe('through a worker', () => {
    let engine: TestEngine;
    const failing = definePipeline({
      id: 'train-fails',
      steps: [step('train', train, { script, args: ['--fail-with', 'RuntimeError: shapes do not match'] })],
    });
    beforeAll(async () => {
      engine = await createEngine({ label: 'train', pipelines: [failing], registry: builtinRegistry([failing], backends) });
      await engine.worker({ pool: 'gpu' }); // train steps go to the GPU pool
    });
    afterAll(async () => engine?.close());

    it('the failed step shows the exit code and stderr tail, and its log has the output', async () => {
      const run = await engine.runToEnd('train-fails');
      expect(run.status).toBe('failed');
      const s = run.steps[0]!;
      expect(s).toMatchObject({ status: 'failed', queue: 'step.train@gpu' });
      expect(s.error).toBe('/usr/bin/python3 exited with code 3; stderr (last lines):\nRuntimeError: shapes do not match');
      const logs = await engine.reader.logs(s.queue, s.jobId);
      expect(logs).toEqual(expect.arrayContaining(['loading data...', '[stderr] RuntimeError: shapes do not match']));
    });
  });
});
