/**
 * Running a program as a step: argv (never a shell), its own process group so
 * a timeout or cancel kills the whole tree, output streamed line by line to
 * the job log, tails kept for the error.
 */
import { spawn } from 'child-process-promise';
import { ProcessExitError, StepError } from './errors.js';

export interface RunProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  signal: AbortSignal;
  /** Called for each line the program prints. */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** After SIGTERM, how long the process group has before SIGKILL. @defaultValue 5000 */
  killGraceMs?: number;
}

export interface ProcessResult {
  exitCode: number;
  stdoutTail: string;
  stderrTail: string;
}

const TAIL_BYTES = 4096;
const TAIL_LINES = 20;

/** Keeps the last lines of a stream, and calls `onLine` for each complete line. */
class LineTail {
  private buf = '';
  private tail: string[] = [];
  constructor(private readonly onLine?: (line: string) => void) {}
  push(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      this.line(this.buf.slice(0, nl));
      this.buf = this.buf.slice(nl + 1);
    }
    if (this.buf.length > TAIL_BYTES) this.buf = this.buf.slice(-TAIL_BYTES);
  }
  private line(l: string): void {
    this.onLine?.(l);
    this.tail.push(l);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }
  text(): string {
    if (this.buf) {
      this.line(this.buf);
      this.buf = '';
    }
    return this.tail.join('\n').slice(-TAIL_BYTES);
  }
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

export async function runProcess(argv: readonly string[], opts: RunProcessOptions): Promise<ProcessResult> {
  const [cmd, ...args] = argv as [string, ...string[]];
  opts.signal.throwIfAborted();
  const promise = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = promise.childProcess;
  const out = new LineTail(opts.onLine && ((l) => opts.onLine!('stdout', l)));
  const err = new LineTail(opts.onLine && ((l) => opts.onLine!('stderr', l)));
  child.stdout?.setEncoding('utf8').on('data', (c: string) => out.push(c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => err.push(c));
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    if (child.pid === undefined) return;
    killGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), opts.killGraceMs ?? 5000);
    killTimer.unref();
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });
  promise.catch(() => undefined); // the outcome is read from the child's events below
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  try {
    if (exit.error) throw new StepError(`cannot start ${cmd}: ${exit.error.message}`, { retryable: false });
    if (exit.code !== 0) throw new ProcessExitError(cmd, exit.code, exit.signal, err.text());
    return { exitCode: 0, stdoutTail: out.text(), stderrTail: err.text() };
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
  }
}
