/** Built-in step types: declarations only (schemas and outputs); handlers live in workers/. */
import { z } from 'zod';
import { defineStepType } from './define.js';

export interface ShellOutput {
  exitCode: number;
  /** Last lines of standard output (at most 4 KiB). */
  stdoutTail: string;
  durationMs: number;
}

/** Runs a program: argv array, no shell, so nothing in it is ever interpolated. */
export const shell = defineStepType<ShellOutput>()({
  name: 'shell',
  description: 'run a program (argv, no shell)',
  input: z.strictObject({
    argv: z.array(z.string()).min(1, 'needs at least the program to run'),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
    /** Also pass the worker's own environment (PATH and so on). @defaultValue true */
    inheritEnv: z.boolean().optional(),
  }),
});

/** A TypeScript function defined in the pipeline file (see `task`). */
export const taskType = defineStepType<unknown>()({
  name: 'task',
  description: 'a TypeScript function from the pipeline definition',
  input: z.strictObject({}),
});

export const BUILTIN_STEP_TYPES = [shell, taskType] as const;
