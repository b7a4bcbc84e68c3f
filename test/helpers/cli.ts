/**
 * Runs the real `bullpen` binary (`node bin/bullpen.js …`) as a child process,
 * from the repository root, with its configuration in the environment. Short
 * commands resolve with their exit code and output; long-running ones (a
 * worker) can be waited on for a line of output, then stopped with a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = 'bin/bullpen.js';

export interface CliEnv {
  /** BULLPEN_REDIS_URL */
  redisUrl: string;
  /** BULLPEN_PREFIX */
  prefix: string;
  /** BULLPEN_PIPELINES (relative to the repository root, or absolute) */
  pipelines?: string;
  /** Any other variables. */
  extra?: Record<string, string>;
}

export interface CliResult {
  /** Exit code, or null when the process was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function childEnv(env: CliEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  // settings of the test runner's own process must not leak into the CLI
  delete out.NODE_OPTIONS;
  for (const k of Object.keys(out)) if (k.startsWith('BULLPEN_')) delete out[k];
  out.BULLPEN_METRICS_PORT = '0'; // test processes would compete for the metrics port; a test can set its own
  out.BULLPEN_REDIS_URL = env.redisUrl;
  out.BULLPEN_PREFIX = env.prefix;
  if (env.pipelines !== undefined) out.BULLPEN_PIPELINES = env.pipelines;
  Object.assign(out, env.extra ?? {});
  return out;
}

function spawnCli(args: readonly string[], env: CliEnv): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

function describeRun(args: readonly string[], stdout: string, stderr: string): string {
  return `bullpen ${args.join(' ')}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
}

/** Runs `bullpen <args>` to its end; kills it (and rejects) after `timeoutMs`. */
export function runCli(args: readonly string[], env: CliEnv, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms: ${describeRun(args, stdout, stderr)}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface LongCommand {
  readonly pid: number;
  /** stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /**
   * Resolves with the first line (stdout or stderr, already printed or still
   * to come) matching `re`; rejects after `timeoutMs` or if the process exits first.
   */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited. */
  exited(timeoutMs?: number): Promise<CliResult>;
  /** Sends `signal` and resolves when the process has exited. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<CliResult>;
  /** Kills the process if it is still running (for cleanup after a failed test). */
  kill(): void;
}

/** Starts `bullpen <args>` (e.g. a worker) and returns a handle on it. */
export function startCli(args: readonly string[], env: CliEnv): LongCommand {
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  const splitter = (append: (c: string) => void) => {
    let partial = '';
    return (chunk: string): void => {
      append(chunk);
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
      notify();
    };
  };
  child.stdout!.setEncoding('utf8').on('data', splitter((c) => (stdout += c)));
  child.stderr!.setEncoding('utf8').on('data', splitter((c) => (stderr += c)));
  let result: CliResult | undefined;
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      result = { code, signal, stdout, stderr };
      resolve(result);
      notify();
    });
  });
  done.catch(() => undefined);

  const withTimeout = <T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms\n${describeRun(args, stdout, stderr)}`)), timeoutMs);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e as Error);
        },
      );
    });

  return {
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    waitForLine(re, timeoutMs = 20_000) {
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        let seen = 0;
        const check = (): void => {
          for (; seen < lines.length; seen++) {
            const m = lines[seen]!.match(re);
            if (m) return finish(() => resolve(m));
          }
          if (result) finish(() => reject(new Error(`exited (code ${result!.code}, signal ${result!.signal}) before a line matched ${re}\n${describeRun(args, stdout, stderr)}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no line matched ${re} within ${timeoutMs} ms\n${describeRun(args, stdout, stderr)}`))),
          timeoutMs,
        );
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    exited(timeoutMs = 30_000) {
      return withTimeout(done, timeoutMs, 'exit');
    },
    stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (!result) child.kill(signal);
      return withTimeout(done, timeoutMs, `exit after ${signal}`);
    },
    kill() {
      if (!result && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
