/**
 * `/metrics` and `/healthz` for every long-running process (worker,
 * scheduler), and the whole monitor (alerts too) inside `bullpen dev`. The
 * backends' circuit breakers report through `bullpen_circuit_state`.
 */
import { loadMonitorSettings } from '../common/monitor-config.js';
import { serveMetrics, startMonitor } from '../monitoring/monitor.js';
import { backendBreakerStates, registerBreakerMetrics } from '../workers/backends/breaker-metrics.js';
import type { App } from './app.js';

export interface Observer {
  /** Where `/metrics` is served, if it is. */
  url?: string;
  close(): Promise<void>;
}

/**
 * Serves the process's metrics on BULLPEN_METRICS_PORT (0: off). A port that
 * is taken (several workers on one host need one port each) is reported and
 * the process goes on without `/metrics`.
 */
export async function observe(app: App, role: 'worker' | 'scheduler' | 'dev'): Promise<Observer> {
  const settings = loadMonitorSettings();
  const base = {
    connection: app.connection,
    prefix: app.config.prefix,
    pipelines: app.pipelines,
    stepTypes: app.registry.names(),
    breakers: backendBreakerStates,
  };
  const urlOf = (port: number): string => `http://${settings.metricsHost === '0.0.0.0' ? 'localhost' : settings.metricsHost}:${port}/metrics`;
  try {
    if (role === 'dev') {
      const mon = await startMonitor({ ...base, redisUrl: app.config.redisUrl, settings });
      registerBreakerMetrics(mon.metrics.registry);
      return { ...(mon.server ? { url: urlOf(mon.server.port) } : {}), close: () => mon.close() };
    }
    if (settings.metricsPort === 0) return { close: async () => undefined };
    const m = await serveMetrics({ ...base, port: settings.metricsPort, host: settings.metricsHost });
    registerBreakerMetrics(m.registry);
    return { url: urlOf(m.server.port), close: () => m.close() };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'EADDRINUSE') throw err;
    if (role === 'dev') {
      const mon = await startMonitor({ ...base, redisUrl: app.config.redisUrl, settings: { ...settings, metricsPort: 0 } });
      console.error(`warning: dev: port ${settings.metricsPort} is taken: no /metrics (set BULLPEN_METRICS_PORT); alerts still run`);
      return { close: () => mon.close() };
    }
    console.error(
      `warning: ${role}: port ${settings.metricsPort} is taken, so this process serves no /metrics; ` +
        'give each process on a host its own BULLPEN_METRICS_PORT (0 turns it off)',
    );
    return { close: async () => undefined };
  }
}
