/** Helpers about processes a test started or had a step start. */

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
