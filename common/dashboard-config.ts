/** Dashboard settings from the environment (see common/config.ts for the loader and the other settings). */
import { z } from 'zod';
import { loadFromEnv } from './config.js';

const schema = z.object({
  /** BULLPEN_DASHBOARD_PORT. @defaultValue 3000 */
  port: z.coerce.number({ error: 'expected a port number (0-65535)' }).int().min(0).max(65535),
  /** BULLPEN_DASHBOARD_HOST. @defaultValue 127.0.0.1 (loopback: reachable from this machine only) */
  host: z.string().min(1),
  /** BULLPEN_DASHBOARD_TOKENS: `viewer:<token>,operator:<token>` (checked by dashboard/auth.ts). @defaultValue none */
  tokens: z.string().optional(),
});

export type DashboardSettings = z.infer<typeof schema>;

export function loadDashboardSettings(env: NodeJS.ProcessEnv = process.env): DashboardSettings {
  return loadFromEnv({
    what: 'dashboard configuration',
    schema,
    env: { port: ['BULLPEN_DASHBOARD_PORT'], host: ['BULLPEN_DASHBOARD_HOST'], tokens: ['BULLPEN_DASHBOARD_TOKENS'] },
    defaults: { port: 3000, host: '127.0.0.1' },
    secret: new Set(['tokens']),
    from: env,
  });
}
