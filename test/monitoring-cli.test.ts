/**
 * `bullpen monitor` as a process: starts on the configured Redis and
 * pipelines, says what it sends where without printing a token, serves
 * /metrics, alerts a failed run, and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fails from './fixtures/good/fails.js';
import { REPO_ROOT } from './helpers/cli.js';
import { createEngine, type TestEngine } from './helpers/engine.js';
import { startFakeSlack, type FakeSlack } from './helpers/fake-slack.js';

const TOKEN = 'xoxb-cli-secret';

let engine: TestEngine;
let slack: FakeSlack;

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

beforeAll(async () => {
  [engine, slack] = await Promise.all([createEngine({ label: 'moncli', pipelines: [fails] }), startFakeSlack()]);
  await engine.worker();
});
afterAll(async () => {
  await engine.close();
  await slack.close();
});

describe('bullpen monitor', () => {
  it('starts, serves /metrics, alerts a failed run, and stops on SIGTERM without printing its token', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, BULLPEN_REDIS_URL: engine.url, BULLPEN_PREFIX: engine.prefix, BULLPEN_PIPELINES: 'test/fixtures/good' };
    delete env.NODE_OPTIONS;
    Object.assign(env, { BULLPEN_SLACK_TOKEN: TOKEN, BULLPEN_SLACK_CHANNEL: '#ops', BULLPEN_SLACK_API_URL: slack.apiUrl });
    const proc = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/monitor-cli.ts', 'monitor', '--metrics-port', String(port)], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const seen = new Set<() => void>();
    const onData = (c: Buffer): void => {
      out += c.toString();
      for (const f of [...seen]) f();
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    const exited = once(proc, 'exit');
    const line = (re: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} in:\n${out}`)), 30_000);
        const check = (): void => void (re.test(out) && (seen.delete(check), clearTimeout(timer), resolve()));
        seen.add(check);
        check();
      });
    try {
      await line(/monitor ready/);
      expect(out).toContain(`monitor ready: pid ${proc.pid}, metrics on http://0.0.0.0:${port}/metrics; Slack on (default channel #ops); PagerDuty off (no BULLPEN_PAGERDUTY_ROUTING_KEY)`);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('bullpen_runs_total{pipeline="fails",status="failed"} 0');
      expect((await engine.runToEnd('fails')).status).toBe('failed');
      const [call] = await slack.waitForCalls(1);
      expect(call!.args.channel).toBe('#ops');
      expect(call!.args.text).toMatch(/^Bullpen run fails\.\S+ of fails failed at step explode: sh exited with code 3; stderr \(last lines\):$/);
      proc.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      expect(out).toContain('monitor stopped');
      expect(out).not.toContain(TOKEN);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });
});
