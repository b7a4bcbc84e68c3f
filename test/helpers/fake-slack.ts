/**
 * A local stand-in for the Slack Web API, for the real @slack/web-api client
 * (`slackApiUrl`): records each `chat.postMessage` it accepts with its token
 * and arguments (JSON-valued fields parsed), and can be taken down (503).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  /** Bearer token from the Authorization header. */
  token: string;
  args: Record<string, unknown>;
}

export interface FakeSlack {
  /** Base URL for `slackApiUrl`. */
  apiUrl: string;
  /** Accepted calls, in order. */
  calls: SlackCall[];
  /** Requests refused while down. */
  refused: number;
  /** While down, every request gets 503. */
  down: boolean;
  /** Channels that answer `{ ok: false, error }` (e.g. `channel_not_found`); such calls are not accepted. */
  refuseChannels: Map<string, string>;
  /** Resolves with the accepted calls once there are at least `n`. */
  waitForCalls(n: number, timeoutMs?: number): Promise<SlackCall[]>;
  /** Resolves once `n` requests have been refused. */
  waitForRefused(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function parseArgs(body: string): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    try {
      args[k] = /^[[{]/.test(v) ? JSON.parse(v) : v;
    } catch {
      args[k] = v;
    }
  }
  return args;
}

export async function startFakeSlack(): Promise<FakeSlack> {
  const listeners = new Set<() => void>();
  const fake = { calls: [] as SlackCall[], refused: 0, down: false, refuseChannels: new Map<string, string>() } as FakeSlack;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (fake.down) {
        fake.refused++;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('service unavailable');
      } else {
        const method = (req.url ?? '').replace(/^\/api\//, '');
        const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        const args = parseArgs(body);
        const error = fake.refuseChannels.get(String(args.channel));
        if (error !== undefined) {
          fake.refused++;
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error }));
          for (const l of [...listeners]) l();
          return;
        }
        fake.calls.push({ method, token, args });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, channel: args.channel, ts: `${Date.now() / 1000}` }));
      }
      for (const l of [...listeners]) l();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const waitFor = (cond: () => boolean, what: string, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`fake Slack: ${what} within ${timeoutMs} ms (accepted ${fake.calls.length}, refused ${fake.refused})`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  fake.apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
  fake.waitForCalls = async (n, timeoutMs = 20_000) => {
    await waitFor(() => fake.calls.length >= n, `no ${n} calls`, timeoutMs);
    return fake.calls;
  };
  fake.waitForRefused = (n, timeoutMs = 20_000) => waitFor(() => fake.refused >= n, `not ${n} refused requests`, timeoutMs);
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return fake;
}
