/**
 * Handler of `train`: a PyTorch script in a subprocess (its own process group,
 * killed on timeout or cancel). The script's contract:
 *
 *   argv:  <script> <args…> --device cuda|cpu --output-dir DIR [--<input> PATH …]
 *   env:   BULLPEN_DEVICE, BULLPEN_OUTPUT_DIR, BULLPEN_METRICS_FILE, BULLPEN_INPUT_<NAME>
 *   lines: `@bullpen {"progress": 0.4, "epoch": 2, "loss": 0.3}` → job progress
 *          `@bullpen {"metrics": {"recall_at_10": 0.31}}`      → final metrics
 *   files: DIR/<artifact> (model.pt), DIR/metrics.json (metrics), anything else
 *
 * Every file in DIR is uploaded; a missing artifact or no metrics fails the step.
 */
import { readdir, readFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepInput, TrainOutput, train } from '../../flows/index.js';
import type { Backends } from '../backends/index.js';
import { findPython } from '../backends/python.js';
import { StepError } from '../errors.js';
import type { StepContext, StepHandler } from '../registry.js';
import { runProcess } from '../subprocess.js';
import { localInputs, outputKey, withScratch } from './files.js';
import { fileEnv } from './transform.js';

type TrainInput = StepInput<typeof train>;

const MARK = '@bullpen ';

interface LineState {
  lineMetrics?: Record<string, number>;
  /** Progress updates in order; awaited before the step ends. */
  progress: Promise<unknown>;
}

/** Numbers of a metrics object; anything else is an error naming where it came from. */
export function metricsOf(value: unknown, where: string): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StepError(`${where}: metrics must be a JSON object of numbers`, { retryable: false });
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new StepError(`${where}: metric ${k} is ${JSON.stringify(v)}, expected a finite number`, { retryable: false });
    out[k] = v;
  }
  return out;
}

/** Handles one line of the script's output: progress and metrics lines, else the log. */
function onLine(ctx: StepContext, state: LineState, stream: 'stdout' | 'stderr', line: string): void {
  if (stream === 'stdout' && line.startsWith(MARK)) {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line.slice(MARK.length)) as Record<string, unknown>;
    } catch {
      ctx.log(`[bullpen] ignored a malformed line: ${line.slice(0, 200)}`);
      return;
    }
    if (msg.metrics !== undefined) state.lineMetrics = metricsOf(msg.metrics, 'the script\'s "@bullpen {metrics}" line');
    if (typeof msg.progress === 'number') state.progress = state.progress.then(() => ctx.progress(msg)).catch(() => undefined);
    ctx.log(line);
    return;
  }
  ctx.log(stream === 'stderr' ? `[stderr] ${line}` : line);
}

export function trainHandler(backends: Backends): StepHandler<TrainInput, TrainOutput> {
  return async (ctx) => {
    const input = ctx.input;
    const configured = input.python ?? backends.config.python;
    const python = await findPython({ torch: true, ...(configured ? { configured } : {}) });
    const wanted = input.device ?? 'auto';
    if (wanted === 'cuda' && !python.cuda) {
      throw new StepError(`input.device is cuda, but torch ${python.torch} (${python.path}) sees no GPU on this worker`, { retryable: false });
    }
    const device = wanted === 'auto' ? (python.cuda ? 'cuda' : 'cpu') : wanted;
    const artifact = input.artifact ?? 'model.pt';
    const metricsName = input.metricsFile ?? 'metrics.json';
    ctx.log(`python ${python.path} (torch ${python.torch}), device ${device}${python.gpu ? ` (${python.gpu})` : ''}`);
    return withScratch(ctx, async (dir) => {
      const inputs = await localInputs(backends, ctx, input.inputs ?? {}, dir, 'input.inputs');
      const out = join(dir, 'out');
      await mkdir(out, { recursive: true });
      const metricsFile = join(out, metricsName);
      const argv = [
        python.path,
        input.script,
        ...(input.args ?? []),
        '--device',
        device,
        '--output-dir',
        out,
        ...Object.entries(inputs).flatMap(([k, v]) => [`--${k.replaceAll('_', '-')}`, v]),
      ];
      const state: LineState = { progress: Promise.resolve() };
      const started = Date.now();
      await runProcess(argv, {
        env: {
          ...process.env,
          ...input.env,
          ...fileEnv(inputs, {}),
          BULLPEN_DEVICE: device,
          BULLPEN_OUTPUT_DIR: out,
          BULLPEN_METRICS_FILE: metricsFile,
          BULLPEN_RUN_ID: ctx.runId,
          BULLPEN_LOGICAL_TIME: ctx.logicalTime,
          PYTHONUNBUFFERED: '1',
        },
        ...(input.cwd !== undefined ? { cwd: input.cwd } : {}),
        signal: ctx.signal,
        onLine: (stream, line) => onLine(ctx, state, stream, line),
      });
      const durationMs = Date.now() - started;
      await state.progress;
      const fileText = await readFile(metricsFile, 'utf8').catch(() => undefined);
      let metrics = state.lineMetrics;
      if (fileText !== undefined) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(fileText);
        } catch (err) {
          throw new StepError(`${metricsName} written by ${input.script} is not JSON: ${(err as Error).message}`, { retryable: false });
        }
        metrics = { ...metrics, ...metricsOf(parsed, metricsName) };
      }
      if (!metrics) {
        throw new StepError(`${input.script} reported no metrics: write ${metricsName} in the output folder or print a line "@bullpen {"metrics": {…}}"`, { retryable: false });
      }
      if (!(await stat(join(out, artifact)).then((s) => s.isFile(), () => false))) {
        throw new StepError(`${input.script} did not write its artifact ${artifact} in the output folder (--output-dir)`, { retryable: false });
      }
      const files: Record<string, string> = {};
      for (const name of await readdir(out)) {
        if (!(await stat(join(out, name))).isFile()) continue;
        files[name] = await backends.store().upload(join(out, name), outputKey(backends, ctx, name));
      }
      files.model = files[artifact]!;
      ctx.log(`trained in ${(durationMs / 1000).toFixed(1)} s on ${device}; metrics ${JSON.stringify(metrics)}`);
      return { uri: files.model, files, metrics, device, durationMs, python: python.path };
    });
  };
}
