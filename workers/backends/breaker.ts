/**
 * Circuit breakers (opossum) around every call to an external backend:
 * BigQuery, GCS, the model registry and the serving store. After repeated
 * failures a breaker opens and calls fail fast with a retryable StepError (the
 * step is retried with its backoff); after `resetMs` one half-open probe goes
 * through, and a success closes the breaker again.
 *
 * Errors that say the request itself is wrong (bad SQL, 4xx other than 408 and
 * 429, non-retryable StepErrors) do not count: the backend is healthy.
 */
import CircuitBreaker from 'opossum';
import { StepError } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Failure percentage in the rolling window that opens the breaker. @defaultValue 50 */
  errorPercent?: number;
  /** Calls in the window before the breaker may open. @defaultValue 5 */
  volume?: number;
  /** How long the breaker stays open before a half-open probe. @defaultValue 30000 */
  resetMs?: number;
  /** Rolling window of the statistics. @defaultValue 10000 */
  windowMs?: number;
}

export interface BreakerSnapshot {
  name: string;
  state: BreakerState;
  failures: number;
  successes: number;
  rejects: number;
}

type Thunk = () => Promise<unknown>;

/** Status codes that say the backend is unwell (count as failures). */
function isBackendFault(err: unknown): boolean {
  if (err instanceof StepError) return err.retryable;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  const status = [e.code, e.status, e.response?.status].find((v) => typeof v === 'number') as number | undefined;
  if (status === undefined) return true; // network errors, resets, timeouts
  return status >= 500 || status === 408 || status === 429;
}

/** A named breaker; `call(fn)` runs `fn` through it. */
export class Breaker {
  private readonly cb: CircuitBreaker<[Thunk], unknown>;
  private lastError = '';

  constructor(
    readonly name: string,
    opts: BreakerOptions = {},
  ) {
    this.cb = new CircuitBreaker<[Thunk], unknown>((fn: Thunk) => fn(), {
      timeout: false,
      errorThresholdPercentage: opts.errorPercent ?? 50,
      volumeThreshold: opts.volume ?? 5,
      resetTimeout: opts.resetMs ?? 30_000,
      rollingCountTimeout: opts.windowMs ?? 10_000,
      errorFilter: (err: unknown) => !isBackendFault(err),
    });
    this.cb.on('failure', (err: unknown) => {
      this.lastError = err instanceof Error ? err.message : String(err);
    });
    registry.set(name, this);
  }

  get state(): BreakerState {
    return this.cb.opened ? 'open' : this.cb.halfOpen ? 'half-open' : 'closed';
  }

  /** Runs `fn` through the breaker; when open, fails fast with a retryable StepError. */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return (await this.cb.fire(fn)) as T;
    } catch (err) {
      if ((err as { code?: string }).code === 'EOPENBREAKER') {
        throw new StepError(
          `circuit breaker "${this.name}" is open after repeated failures (last: ${this.lastError || 'unknown'}); failing fast, the step will be retried`,
          { retryable: true, cause: err },
        );
      }
      throw err;
    }
  }

  /** Resolves when the breaker next reaches `state`, or rejects after `timeoutMs`. */
  when(state: BreakerState, timeoutMs: number): Promise<void> {
    if (this.state === state) return Promise.resolve();
    const event = state === 'open' ? 'open' : state === 'closed' ? 'close' : 'halfOpen';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.cb.removeListener(event, done);
        reject(new Error(`breaker ${this.name} did not reach ${state} within ${timeoutMs} ms (now ${this.state})`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.cb.once(event, done);
    });
  }

  on(event: 'open' | 'close' | 'halfOpen', listener: () => void): void {
    (this.cb as unknown as NodeJS.EventEmitter).on(event, listener);
  }

  snapshot(): BreakerSnapshot {
    const s = this.cb.stats;
    return { name: this.name, state: this.state, failures: s.failures, successes: s.successes, rejects: s.rejects };
  }

  /** Stops the breaker's timers. */
  shutdown(): void {
    this.cb.shutdown();
    if (registry.get(this.name) === this) registry.delete(this.name);
  }
}

const registry = new Map<string, Breaker>();

/** Every live breaker of this process, for metrics (`bullpen_circuit_state`). */
export function breakerSnapshots(): BreakerSnapshot[] {
  return [...registry.values()].map((b) => b.snapshot());
}

