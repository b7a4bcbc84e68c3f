/** A local PagerDuty Events API v2 endpoint: records every event it accepts (202), as sent. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePagerDuty {
  /** URL for `pagerdutyUrl` (`…/v2/enqueue`). */
  url: string;
  events: Record<string, unknown>[];
  waitForEvents(n: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function startFakePagerDuty(): Promise<FakePagerDuty> {
  const events: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v2/enqueue' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid request' }));
        return;
      }
      const event = JSON.parse(body) as Record<string, unknown>;
      events.push(event);
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: event.dedup_key }));
      for (const l of [...listeners]) l();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/enqueue`,
    events,
    waitForEvents: (n, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (events.length < n) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(events);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`fake PagerDuty: ${events.length} of ${n} events within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
