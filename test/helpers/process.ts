/** Child processes of the `bullpen` binary, for tests that signal or kill them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface BullpenProcess {
  proc: ChildProcess;
  output(): string;
  /** Resolves when the output has a line matching `re`; rejects after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

export function spawnBullpen(args: string[], env: Record<string, string>): BullpenProcess {
  // no /metrics server unless a test asks: test processes would compete for the port
  const proc = spawn(process.execPath, ['bin/bullpen.js', ...args], { env: { ...process.env, BULLPEN_METRICS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const l of [...listeners]) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = once(proc, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  return {
    proc,
    output: () => out,
    exited,
    waitFor: (re, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m[0]);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => setImmediate(() => listeners.has(check) && (listeners.delete(check), clearTimeout(timer), reject(new Error(`exited before ${re}; output:\n${out}`)))));
        check();
      }),
  };
}

/** Resolves when no process has this pid any more (reaping can lag a kill); rejects after `timeoutMs`. */
export async function waitGone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} still alive after ${timeoutMs} ms`);
    await new Promise((r) => setImmediate(r));
  }
}
