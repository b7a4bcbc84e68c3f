/**
 * Circuit breakers of the backends for Prometheus: their states feed
 * `bullpen_circuit_state` (monitoring/, with the alert sinks' breakers), and
 * `bullpen_circuit_breaker_window_calls` counts the rolling window's calls.
 */
import { Gauge, type Registry } from 'prom-client';
import { breakerSnapshots } from './breaker.js';

/** Each backend breaker's state, by name, as `bullpen_circuit_state` takes it. */
export function backendBreakerStates(): Record<string, 'closed' | 'halfOpen' | 'open'> {
  return Object.fromEntries(breakerSnapshots().map((b) => [b.name, b.state === 'half-open' ? 'halfOpen' : b.state]));
}

export function registerBreakerMetrics(register: Registry): void {
  new Gauge({
    name: 'bullpen_circuit_breaker_window_calls',
    help: 'Calls through a circuit breaker in its rolling window, by outcome (failure, success, rejected while open)',
    labelNames: ['breaker', 'outcome'],
    registers: [register],
    collect() {
      this.reset();
      for (const b of breakerSnapshots()) {
        this.set({ breaker: b.name, outcome: 'failure' }, b.failures);
        this.set({ breaker: b.name, outcome: 'success' }, b.successes);
        this.set({ breaker: b.name, outcome: 'rejected' }, b.rejects);
      }
    },
  });
}
