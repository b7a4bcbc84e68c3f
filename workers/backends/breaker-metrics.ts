/**
 * Circuit breaker state for Prometheus: `bullpen_circuit_breaker_state`
 * (0 closed, 1 half-open, 2 open) and the rolling-window failures and
 * fail-fast rejections, one series per breaker of this process.
 */
import { Gauge, type Registry } from 'prom-client';
import { breakerSnapshots, breakerStateValue } from './breaker.js';

export function registerBreakerMetrics(register: Registry): void {
  new Gauge({
    name: 'bullpen_circuit_breaker_state',
    help: 'Circuit breaker of a backend (bigquery, gcs, registry, serving): 0 closed, 1 half-open, 2 open',
    labelNames: ['breaker'],
    registers: [register],
    collect() {
      this.reset();
      for (const b of breakerSnapshots()) this.set({ breaker: b.name }, breakerStateValue(b.state));
    },
  });
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
