/**
 * `bullpen doctor`: checks every prerequisite of the configured setup and says
 * how to fix what is missing: the queue Redis, the backend configuration,
 * Python with torch, the warehouse, the object store and the serving store.
 * `checkPrerequisites` is the same list, for `bullpen dev` to run first.
 */
import type { Command } from 'commander';
import { Redis } from 'ioredis';
import { loadBackendConfig, type BackendConfig } from '../../common/backend-config.js';
import { loadConfig } from '../../common/config.js';
import { checkRedis, redactUrl } from '../../common/redis.js';
import { createBackends, type Backends } from '../../workers/backends/index.js';
import { probeAll, TORCH_INSTALL_HINT } from '../../workers/backends/python.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** How to fix it, when not ok. */
  fix?: string;
}

async function check(name: string, fn: () => Promise<string>, fix: string): Promise<Check> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message.split('\n')[0]!, fix };
  }
}

async function python(cfg: BackendConfig): Promise<Check> {
  const results = await probeAll(cfg.python);
  const good = results.find((r) => r.info?.torch);
  if (good?.info) {
    const i = good.info;
    return { name: 'python + torch', ok: true, detail: `${i.path} (Python ${i.version}, torch ${i.torch}, ${i.cuda ? `cuda: ${i.gpu}` : 'no GPU: train runs on cpu'})` };
  }
  const tried = results.map((r) => `${r.path}: ${r.error ?? r.info?.torchError ?? 'no torch'}`).join('; ');
  return { name: 'python + torch', ok: false, detail: `no interpreter imports torch (${tried})`, fix: TORCH_INSTALL_HINT };
}

async function storeCheck(b: Backends): Promise<string> {
  const store = b.store();
  const key = `${b.config.storePrefix}.bullpen-doctor`;
  await store.write(key, new Date().toISOString());
  if ((await store.read(key)) === undefined) throw new Error('wrote a probe object but cannot read it back');
  const where = b.config.objectStore === 'gcs' ? `gs://${b.config.gcsBucket}/${b.config.storePrefix}` : b.config.localStoreDir;
  return `${where} (write and read back ok)`;
}

async function servingCheck(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return redactUrl(url);
  } finally {
    redis.disconnect();
  }
}

/** Every check; never throws. */
export async function checkPrerequisites(): Promise<Check[]> {
  const checks: Check[] = [];
  let queueUrl = 'redis://127.0.0.1:6379';
  try {
    queueUrl = loadConfig().redisUrl;
  } catch (err) {
    checks.push({ name: 'configuration', ok: false, detail: (err as Error).message.replaceAll('\n', ' '), fix: 'fix the variables named above' });
  }
  checks.push(
    await check('queue redis', async () => `${redactUrl(queueUrl)} (Redis ${(await checkRedis(queueUrl)).version})`, 'start Redis (Debian: apt-get install -y redis-server && redis-server --daemonize yes) or set BULLPEN_REDIS_URL'),
  );
  let cfg: BackendConfig;
  try {
    cfg = loadBackendConfig();
    checks.push({ name: 'backend configuration', ok: true, detail: `warehouse ${cfg.warehouse}, object store ${cfg.objectStore}` });
  } catch (err) {
    checks.push({ name: 'backend configuration', ok: false, detail: (err as Error).message.replaceAll('\n', ' '), fix: 'set the variables named above (see README, "ML backends")' });
    return checks;
  }
  checks.push(await python(cfg));
  const backends = createBackends(cfg);
  try {
    const whFix = cfg.warehouse === 'bigquery'
      ? 'give the worker credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud auth application-default login) with BigQuery Job User and Data Editor on the dataset'
      : 'make the folder of BULLPEN_DUCKDB_PATH writable; only one process may write a DuckDB file (stop other workers or use BigQuery)';
    checks.push(
      await check(`warehouse (${cfg.warehouse})`, async () => {
        await backends.warehouse().query('SELECT 1 AS ok', {});
        return cfg.warehouse === 'duckdb' ? cfg.duckdbPath : `project ${cfg.bigqueryProject}, dataset ${cfg.bigqueryDataset}`;
      }, whFix),
    );
    checks.push(
      await check(`object store (${cfg.objectStore})`, () => storeCheck(backends), cfg.objectStore === 'gcs'
        ? 'check BULLPEN_GCS_BUCKET and that the credentials may create and read objects in it (Storage Object Admin)'
        : 'make BULLPEN_LOCAL_STORE_DIR writable'),
    );
    checks.push(await check('serving store', () => servingCheck(cfg.servingRedisUrl), 'start that Redis or set BULLPEN_SERVING_REDIS_URL (another database or server than the queue Redis)'));
  } finally {
    await backends.close();
  }
  return checks;
}

export function formatChecks(checks: readonly Check[]): string {
  return checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}${c.ok || !c.fix ? '' : `\n      to fix: ${c.fix}`}`).join('\n');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the prerequisites (Redis, Python with torch, warehouse, object store, serving store) and say how to fix them')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const checks = await checkPrerequisites();
      console.log(o.json ? JSON.stringify(checks) : formatChecks(checks));
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });
}
