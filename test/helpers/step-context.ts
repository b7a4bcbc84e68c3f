/**
 * A StepContext for calling a step handler directly: the log lines and
 * progress values it reports are kept for the test to check.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackendConfig, type BackendConfig } from '../../common/backend-config.js';
import { createBackends, type Backends } from '../../workers/backends/index.js';
import type { StepContext } from '../../workers/registry.js';

export interface RecordingContext<I> extends StepContext<I> {
  lines: string[];
  progresses: unknown[];
}

export function stepContext<I>(input: I, opts: { stepId?: string; deps?: Record<string, unknown>; signal?: AbortSignal } = {}): RecordingContext<I> {
  const lines: string[] = [];
  const progresses: unknown[] = [];
  const ctx = {
    input,
    deps: opts.deps ?? {},
    runId: 'test-run',
    pipeline: 'test',
    stepId: opts.stepId ?? 'step',
    params: {},
    logicalTime: '2026-11-30T05:00:00.000Z',
    dataInterval: { start: '2026-11-23T05:00:00.000Z', end: '2026-11-30T05:00:00.000Z' },
    attempt: 1,
    signal: opts.signal ?? new AbortController().signal,
    log: (m: string) => void lines.push(m),
    progress: async (v: number | object) => void progresses.push(v),
    lines,
    progresses,
  };
  return ctx as RecordingContext<I>;
}

/** Embedded backends in a fresh temporary folder. */
export async function localBackends(overrides: Partial<BackendConfig> = {}): Promise<{ backends: Backends; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bullpen-steps-'));
  const config = loadBackendConfig({ duckdbPath: join(dir, 'w.duckdb'), localStoreDir: join(dir, 'objects'), python: '/usr/bin/python3', ...overrides }, {});
  return { backends: createBackends(config), dir };
}
