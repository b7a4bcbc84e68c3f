/** A private redis-server on a free port, for tests that restart or break Redis; stopped by PID. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { promisify } from 'node:util';
import { checkRedis } from '../../common/redis.js';

const run = promisify(execFile);

export interface PrivateRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}


export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'bullpen-redis-'));
  const port = await freePort();
  const pidfile = join(dir, 'redis.pid');
  await run('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'yes', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--pidfile', pidfile, '--logfile', join(dir, 'redis.log'),
  ]);
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await checkRedis(url, 500);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50)); // polling a server's start-up, not synchronising test steps
    }
  }
  const pid = Number((await readFile(pidfile, 'utf8')).trim());
  return {
    url,
    port,
    pid,
    stop: async () => {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already stopped
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
