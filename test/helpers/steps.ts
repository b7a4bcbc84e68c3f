/** Step definitions tests share. */
import { task, type StepDefinition } from '../../flows/index.js';

/**
 * A task that fails its first `failures` attempts in each run (with
 * `transient failure <n>`), then returns the attempt number; it retries
 * `failures` times with a 10 ms backoff, so it succeeds in the end.
 */
export function flakyTask(id: string, failures = 2): StepDefinition<string, number> {
  const attempts = new Map<string, number>();
  return task(id, {
    retries: failures,
    backoff: { type: 'fixed', delayMs: 10 },
    run: (ctx) => {
      const n = (attempts.get(ctx.runId) ?? 0) + 1;
      attempts.set(ctx.runId, n);
      if (n <= failures) throw new Error(`transient failure ${n}`);
      return n;
    },
  }) as StepDefinition<string, number>;
}
