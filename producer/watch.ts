/**
 * Waiting for runs to finish, on events: one QueueEvents on the runs queue
 * serves every waiter; each wait also reads the run once after subscribing,
 * so a run that ended before the wait began is not missed.
 */
import { QueueEvents, type ConnectionOptions } from 'bullmq';
import { RUNS_QUEUE } from '../common/names.js';
import { isFinished, type RunReader, type RunState } from './state.js';

export class RunTimeoutError extends Error {
  override name = 'RunTimeoutError';
}

export class RunWatcher {
  private readonly events: QueueEvents;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(connection: ConnectionOptions, prefix: string, private readonly reader: RunReader) {
    this.events = new QueueEvents(RUNS_QUEUE, { connection, prefix });
    // a retried run's root is `<runId>~<attempt>`
    const wake = ({ jobId }: { jobId: string }): void => {
      for (const w of this.waiters.get(jobId.split('~')[0]!) ?? []) w();
    };
    this.events.on('completed', wake);
    this.events.on('failed', wake);
  }

  /** Resolves with the run's final state; rejects after `timeoutMs`. */
  async wait(runId: string, timeoutMs: number): Promise<RunState> {
    await this.events.waitUntilReady();
    return new Promise<RunState>((resolve, reject) => {
      let set = this.waiters.get(runId);
      if (!set) this.waiters.set(runId, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(check);
        if (set.size === 0) this.waiters.delete(runId);
      };
      const check = (): void => {
        this.reader.get(runId).then(
          (state) => {
            if (!state) {
              done();
              reject(new Error(`run ${runId} not found`));
            } else if (isFinished(state.status)) {
              done();
              resolve(state);
            }
          },
          (err: unknown) => {
            done();
            reject(err as Error);
          },
        );
      };
      const timer = setTimeout(() => {
        done();
        reject(new RunTimeoutError(`run ${runId} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      set.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    await this.events.close();
  }
}
