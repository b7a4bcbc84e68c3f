/**
 * Loads pipeline definitions from a folder (or one file): every `*.ts`,
 * `*.mts`, `*.js` or `*.mjs` file, each exporting pipelines (default export,
 * named exports, or arrays of them). TypeScript files need a loader (the
 * `bullpen` binary registers tsx).
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPipeline } from './define.js';
import type { PipelineDefinition, Problem } from './types.js';

const EXT = /\.(m?ts|m?js)$/;
const SKIP = /\.(d|test|spec)\.(m?ts|m?js)$/;

export interface LoadResult {
  pipelines: PipelineDefinition[];
  problems: Problem[];
}

export async function pipelineFiles(path: string): Promise<string[]> {
  const abs = resolve(path);
  const info = await stat(abs).catch(() => undefined);
  if (!info) throw new Error(`no pipelines folder or file at ${path}`);
  if (info.isFile()) return [abs];
  const names = (await readdir(abs, { recursive: true })).map(String);
  return names
    .filter((n) => EXT.test(n) && !SKIP.test(n) && !n.split(/[\\/]/).some((part) => part.startsWith('_') || part === 'node_modules'))
    .sort()
    .map((n) => join(abs, n));
}

export async function loadPipelines(path: string): Promise<LoadResult> {
  const pipelines: PipelineDefinition[] = [];
  const problems: Problem[] = [];
  for (const file of await pipelineFiles(path)) {
    const shown = relative(process.cwd(), file) || basename(file);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      problems.push({ pipeline: basename(file), source: shown, message: `cannot load ${shown}: ${(err as Error).message}` });
      continue;
    }
    const found = new Set<PipelineDefinition>();
    for (const value of Object.values(mod)) {
      for (const v of Array.isArray(value) ? value : [value]) if (isPipeline(v)) found.add(v);
    }
    for (const p of found) pipelines.push({ ...p, source: shown });
  }
  return { pipelines, problems };
}
