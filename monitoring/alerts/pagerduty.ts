/** The PagerDuty sink: Events API v2 (`POST /v2/enqueue`), the routing key added from the environment at send time. */
import type { Sink } from './outbox.js';

export interface PagerDutySinkOptions {
  /** Integration (routing) key, from the environment. */
  routingKey: string;
  /** @defaultValue 'https://events.pagerduty.com/v2/enqueue' */
  url?: string;
  /** @defaultValue 10000 */
  timeoutMs?: number;
}

export class PagerDutyError extends Error {
  override name = 'PagerDutyError';
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`PagerDuty answered ${status}: ${body.slice(0, 300)}`);
  }
}

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export function pagerDutySink(o: PagerDutySinkOptions): Sink {
  const url = o.url ?? PAGERDUTY_EVENTS_URL;
  return {
    name: 'pagerduty',
    send: async (body) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ routing_key: o.routingKey, ...(body as object) }),
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      if (res.status !== 202 && !res.ok) throw new PagerDutyError(res.status, await res.text());
      await res.body?.cancel();
    },
    isPermanent: (err) => err instanceof PagerDutyError && err.status >= 400 && err.status < 500 && err.status !== 429 && err.status !== 408,
  };
}
