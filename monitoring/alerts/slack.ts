/** The Slack sink: `chat.postMessage` through the real @slack/web-api client, with no retries of its own (the outbox retries). */
import { ErrorCode, LogLevel, WebClient, type ChatPostMessageArguments, type Logger } from '@slack/web-api';
import type { Log } from './redact.js';
import type { Sink } from './outbox.js';

export interface SlackSinkOptions {
  /** Bot token, from the environment. */
  token: string;
  /** @defaultValue 'https://slack.com/api/' */
  apiUrl?: string;
  /** @defaultValue 10000 */
  timeoutMs?: number;
  log: Log;
}

/** Platform errors that pass: retry them. */
const TRANSIENT = new Set(['ratelimited', 'service_unavailable', 'fatal_error', 'internal_error', 'request_timeout', 'team_added_to_org']);

function slackLogger(log: Log): Logger {
  let level = LogLevel.WARN;
  const line = (parts: unknown[]) => log(`alerts: slack client: ${parts.map(String).join(' ')}`);
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...m: unknown[]) => line(m),
    error: (...m: unknown[]) => line(m),
    setLevel: (l: LogLevel) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}

export function slackSink(o: SlackSinkOptions): Sink {
  const client = new WebClient(o.token, {
    ...(o.apiUrl !== undefined ? { slackApiUrl: o.apiUrl } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: o.timeoutMs ?? 10_000,
    logger: slackLogger(o.log),
  });
  return {
    name: 'slack',
    send: async (body) => {
      await client.chat.postMessage(body as ChatPostMessageArguments);
    },
    isPermanent: (err) => {
      const e = err as { code?: string; data?: { error?: string }; statusCode?: number };
      if (e.code === ErrorCode.PlatformError) return !TRANSIENT.has(e.data?.error ?? '');
      if (e.code === ErrorCode.HTTPError) return (e.statusCode ?? 500) >= 400 && (e.statusCode ?? 500) < 500 && e.statusCode !== 408 && e.statusCode !== 429;
      return false;
    },
  };
}
