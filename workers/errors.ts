/** Errors a step can end with. Each has a stable name; `retryable: false` skips retries. */

/** A step failure with its cause in the message. Set `retryable: false` when retrying cannot help. */
export class StepError extends Error {
  override name = 'StepError';
  readonly retryable: boolean;
  constructor(message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.retryable = opts.retryable ?? true;
  }
}

/** The step ran past its `timeoutMs`; its subprocesses were killed. Retryable. */
export class StepTimeoutError extends StepError {
  override name = 'StepTimeoutError';
  constructor(ms: number) {
    super(`step timed out after ${ms} ms`);
  }
}

/** A subprocess exited non-zero or was killed. */
export class ProcessExitError extends StepError {
  override name = 'ProcessExitError';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderrTail: string,
  ) {
    const how = exitCode !== null ? `exited with code ${exitCode}` : `was killed by ${signal ?? 'a signal'}`;
    super(`${command} ${how}${stderrTail ? `; stderr (last lines):\n${stderrTail}` : ''}`);
  }
}

/** The worker is shutting down: the step is handed back to the queue, not failed. */
export class ShutdownError extends Error {
  override name = 'ShutdownError';
  constructor() {
    super('worker shutting down: step handed back to the queue');
  }
}

/** The worker lost the job's lock (e.g. a blocked event loop); another worker may run it. */
export class LockLostError extends Error {
  override name = 'LockLostError';
  constructor() {
    super('job lock lost; step aborted');
  }
}

/** The run was cancelled: the step is aborted and fails without retries. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor() {
    super('the run was cancelled');
  }
}
