/** Handler of the built-in `shell` step type. */
import type { ShellOutput, StepInput, shell } from '../../flows/index.js';
import type { StepContext } from '../registry.js';
import { runProcess } from '../subprocess.js';

type ShellInput = StepInput<typeof shell>;

export async function runShell(ctx: StepContext<ShellInput>): Promise<ShellOutput> {
  const { argv, env, cwd, inheritEnv = true } = ctx.input;
  const started = Date.now();
  const res = await runProcess(argv, {
    env: { ...(inheritEnv ? process.env : {}), ...env },
    ...(cwd !== undefined ? { cwd } : {}),
    signal: ctx.signal,
    onLine: (stream, line) => ctx.log(stream === 'stderr' ? `[stderr] ${line}` : line),
  });
  return { exitCode: res.exitCode, stdoutTail: res.stdoutTail, durationMs: Date.now() - started };
}
