/**
 * Handler of `transform`: a Python or Node script (argv, never a shell) or a
 * TypeScript function over local copies of the input files; the output files
 * it writes are uploaded to the object store.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FilesOutput, PipelineDefinition, StepInput, TransformContext, transform } from '../../flows/index.js';
import type { Backends } from '../backends/index.js';
import { findPython } from '../backends/python.js';
import { StepError } from '../errors.js';
import { taskIndex, type StepContext, type StepHandler } from '../registry.js';
import { runProcess } from '../subprocess.js';
import { localInputs, outputKey, withScratch } from './files.js';

type TransformInput = StepInput<typeof transform>;

/** Replaces `{input.x}` / `{output.y}` in an argument; an unknown name is an error. */
export function substitute(arg: string, paths: { input: Record<string, string>; output: Record<string, string> }, where: string): string {
  return arg.replace(/\{(input|output)\.([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, kind: 'input' | 'output', name: string) => {
    const p = paths[kind][name];
    if (p === undefined) {
      throw new StepError(`${where}: ${whole} names no ${kind} (${kind}s: ${Object.keys(paths[kind]).join(', ') || 'none'})`, { retryable: false });
    }
    return p;
  });
}

/** Environment variables naming the files: BULLPEN_INPUT_<NAME>, BULLPEN_OUTPUT_<NAME>. */
export function fileEnv(inputs: Record<string, string>, outputs: Record<string, string>): Record<string, string> {
  return {
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`BULLPEN_INPUT_${k.toUpperCase()}`, v])),
    ...Object.fromEntries(Object.entries(outputs).map(([k, v]) => [`BULLPEN_OUTPUT_${k.toUpperCase()}`, v])),
  };
}

async function runScript(backends: Backends, ctx: StepContext<TransformInput>, inputs: Record<string, string>, outputs: Record<string, string>): Promise<void> {
  const script = ctx.input.script!;
  const interpreter =
    script.language === 'node' ? process.execPath : (await findPython({ torch: false, ...(backends.config.python ? { configured: backends.config.python } : {}) })).path;
  const args = (script.args ?? []).map((a, i) => substitute(a, { input: inputs, output: outputs }, `input.script.args.${i}`));
  ctx.log(`running ${script.language} ${script.path} ${args.join(' ')}`);
  await runProcess([interpreter, script.path, ...args], {
    env: { ...process.env, ...script.env, ...fileEnv(inputs, outputs), BULLPEN_RUN_ID: ctx.runId, BULLPEN_LOGICAL_TIME: ctx.logicalTime },
    ...(script.cwd !== undefined ? { cwd: script.cwd } : {}),
    signal: ctx.signal,
    onLine: (stream, line) => ctx.log(stream === 'stderr' ? `[stderr] ${line}` : line),
  });
}

export function transformHandler(backends: Backends, pipelines: readonly PipelineDefinition[]): StepHandler<TransformInput, FilesOutput> {
  const functions = taskIndex(pipelines);
  return async (ctx) => {
    const fn = functions.get(ctx.pipeline)?.get(ctx.stepId);
    if (!ctx.input.script && !fn) {
      throw new StepError(`transform step ${ctx.stepId} has neither input.script nor a TypeScript function in this worker's pipelines`, { retryable: false });
    }
    const names = Object.keys(ctx.input.outputs);
    if (!names.length) throw new StepError('input.outputs: name at least one output file', { retryable: false });
    return withScratch(ctx, async (dir) => {
      const inputs = await localInputs(backends, ctx, ctx.input.inputs, dir, 'input.inputs');
      await mkdir(join(dir, 'out'), { recursive: true });
      const outputs = Object.fromEntries(Object.entries(ctx.input.outputs).map(([k, file]) => [k, join(dir, 'out', file)]));
      if (ctx.input.script) await runScript(backends, ctx, inputs, outputs);
      else await fn!({ ...ctx, inputs, outputs } as unknown as TransformContext<unknown>);
      const files: Record<string, string> = {};
      for (const [name, path] of Object.entries(outputs)) {
        const ok = await stat(path).then((s) => s.isFile(), () => false);
        if (!ok) throw new StepError(`output "${name}" was not written (expected the script to write ${path})`, { retryable: false });
        files[name] = await backends.store().upload(path, outputKey(backends, ctx, ctx.input.outputs[name]!));
      }
      ctx.log(`wrote ${Object.values(files).join(', ')}`);
      return { uri: files[names[0]!]!, files };
    });
  };
}
