/** `bullpen monitor`: alert listeners (Slack, PagerDuty, deadlines), the metrics tally, and `/metrics`. */
import type { Command } from 'commander';
import { startMonitor } from '../../monitoring/monitor.js';
import { loadMonitorSettings, type MonitorSettings } from '../../common/monitor-config.js';
import { openApp, UsageError } from '../app.js';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--metrics-port ${v}: expected a port from 0 (none) to 65535`);
  return n;
}

/** One line on what this monitor sends where; never a token. */
function describeSinks(s: MonitorSettings): string {
  const slack = s.slackToken ? `Slack on (default channel ${s.slackChannel ?? 'none: pipelines must set alerts.slackChannel'})` : 'Slack off (no BULLPEN_SLACK_TOKEN)';
  const pd = s.pagerdutyRoutingKey ? `PagerDuty on (default severity ${s.pagerdutySeverity})` : 'PagerDuty off (no BULLPEN_PAGERDUTY_ROUTING_KEY)';
  return `${slack}; ${pd}`;
}

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description('send alerts for failed runs and missed deadlines (Slack, PagerDuty), tally metrics, serve /metrics; run one or more')
    .option('--metrics-port <port>', 'port of /metrics and /healthz, 0 for none (default: BULLPEN_METRICS_PORT or 9464)', port)
    .action(async (o: { metricsPort?: number }) => {
      const settings = loadMonitorSettings(o.metricsPort !== undefined ? { metricsPort: o.metricsPort } : {});
      const app = await openApp();
      const monitor = await startMonitor({
        redisUrl: app.config.redisUrl,
        connection: app.connection,
        prefix: app.config.prefix,
        pipelines: app.pipelines,
        stepTypes: app.registry.names(),
        settings,
      }).catch(async (err: Error) => {
        await app.close();
        throw err.message.includes('EADDRINUSE') ? new UsageError(`metrics port ${settings.metricsPort} is in use: set --metrics-port or BULLPEN_METRICS_PORT`) : err;
      });
      const where = monitor.server ? `metrics on http://${settings.metricsHost}:${monitor.server.port}/metrics` : 'no metrics server';
      console.log(`monitor ready: pid ${process.pid}, ${where}; ${describeSinks(settings)}; pipelines ${app.pipelines.map((p) => p.id).join(', ')}`);
      const sig = await new Promise<NodeJS.Signals>((resolve) => {
        const on = (s: NodeJS.Signals): void => {
          process.once(s, () => process.exit(130));
          resolve(s);
        };
        process.once('SIGTERM', on);
        process.once('SIGINT', on);
      });
      console.log(`monitor stopping (${sig})`);
      await monitor.close();
      await app.close();
      console.log('monitor stopped');
    });
}
