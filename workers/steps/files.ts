/**
 * What the ML step handlers share: resolving a FileRef against the step's
 * dependencies, a private scratch folder per step, and object keys for a
 * step's outputs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileRef } from '../../flows/index.js';
import type { Backends } from '../backends/index.js';
import { runFileKey } from '../backends/object-store.js';
import { StepError } from '../errors.js';
import type { StepContext } from '../registry.js';

/** The URI a FileRef names; `where` (e.g. `input.from`) goes into errors. */
export function resolveRef(ctx: StepContext, ref: FileRef, where: string): string {
  if (typeof ref === 'string') return ref;
  if (!(ref.from in ctx.deps)) {
    throw new StepError(
      `${where}: "${ref.from}" is not a dependency of step ${ctx.stepId} (add it to dependsOn; dependencies: ${Object.keys(ctx.deps).join(', ') || 'none'})`,
      { retryable: false },
    );
  }
  const out = ctx.deps[ref.from] as { uri?: unknown; files?: Record<string, unknown> } | null;
  const uri = ref.file !== undefined ? out?.files?.[ref.file] : out?.uri;
  if (typeof uri !== 'string') {
    const has = out?.files ? Object.keys(out.files).join(', ') : 'none';
    throw new StepError(
      ref.file !== undefined
        ? `${where}: step ${ref.from} has no output file "${ref.file}" (it has: ${has})`
        : `${where}: step ${ref.from}'s output has no "uri" (is it a file-producing step? name a file with { from, file }; files: ${has})`,
      { retryable: false },
    );
  }
  return uri;
}

/** Object key of one of this step's output files. */
export function outputKey(backends: Backends, ctx: StepContext, name: string): string {
  return runFileKey(backends.config.storePrefix, ctx, name);
}

/** Runs `fn` with a fresh scratch folder, removed afterwards. */
export async function withScratch<T>(ctx: StepContext, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `bullpen-${ctx.stepId.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Local copies of input files by name, resolved from refs. */
export async function localInputs(
  backends: Backends,
  ctx: StepContext,
  refs: Readonly<Record<string, FileRef>>,
  dir: string,
  where: string,
): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(refs).map(async ([name, ref]) => {
      const uri = resolveRef(ctx, ref, `${where}.${name}`);
      return [name, await backends.store().localCopy(uri, dir)] as const;
    }),
  );
  return Object.fromEntries(entries);
}
