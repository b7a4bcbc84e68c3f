/**
 * The one place for Bullpen's configuration: environment variables, validated
 * once, with documented defaults. Every process reads its settings from here.
 */
import { z } from 'zod';

const int = (min: number) => z.coerce.number().int().min(min);

const schema = z.object({
  /** Redis for queues and run state. @defaultValue redis://127.0.0.1:6379 */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://'),
  /** Key prefix of every queue; the braces make one Redis Cluster hash slot. @defaultValue {bullpen} */
  prefix: z.string().min(1).refine((s) => !s.includes(':'), 'must not contain ":"'),
  /** Folder holding pipeline definitions (*.ts, *.js). @defaultValue pipelines */
  pipelinesDir: z.string().min(1),
  /** Finished runs kept per pipeline (older ones are removed with their jobs). @defaultValue 100 */
  keepRuns: int(1),
  /** Finished runs older than this are removed. @defaultValue 30 */
  runMaxAgeDays: int(1),
  /** SIGTERM: how long active steps may finish before they are handed back. @defaultValue 30000 */
  shutdownGraceMs: int(0),
  /** Job lock duration; a worker that cannot renew it within this loses the job. @defaultValue 30000 */
  lockDurationMs: int(1000),
  /** Stalled-job check interval: how soon a dead worker's job is retried. @defaultValue 30000 */
  stalledIntervalMs: int(1000),
  /** Global concurrency per step type across all workers: `warehouse.load=2,train=1`. @defaultValue none */
  stepConcurrency: z.preprocess(
    (v) =>
      typeof v === 'string'
        ? Object.fromEntries(
            v
              .split(',')
              .filter((p) => p.trim())
              .map((p) => {
                const [k, n] = p.split('=');
                return [k?.trim() ?? '', Number(n)];
              }),
          )
        : v,
    z.record(z.string().min(1), z.number().int().min(1, 'each limit must be a whole number ≥ 1 (type=n,…)')),
  ),
});

export type Config = z.infer<typeof schema>;

/** Environment variable behind each setting (the first one set wins). */
const ENV: Record<keyof Config, readonly string[]> = {
  redisUrl: ['BULLPEN_REDIS_URL', 'REDIS_URL'],
  prefix: ['BULLPEN_PREFIX'],
  pipelinesDir: ['BULLPEN_PIPELINES'],
  keepRuns: ['BULLPEN_KEEP_RUNS'],
  runMaxAgeDays: ['BULLPEN_RUN_MAX_AGE_DAYS'],
  shutdownGraceMs: ['BULLPEN_SHUTDOWN_GRACE_MS'],
  lockDurationMs: ['BULLPEN_LOCK_DURATION_MS'],
  stalledIntervalMs: ['BULLPEN_STALLED_INTERVAL_MS'],
  stepConcurrency: ['BULLPEN_STEP_CONCURRENCY'],
};

export const DEFAULTS: Config = {
  redisUrl: 'redis://127.0.0.1:6379',
  prefix: '{bullpen}',
  pipelinesDir: 'pipelines',
  keepRuns: 100,
  runMaxAgeDays: 30,
  shutdownGraceMs: 30_000,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  stepConcurrency: {},
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads settings from the environment (the first variable set of each
 * setting wins), over `defaults`, under `overrides`, and validates them with
 * `schema`. Every problem is reported at once, naming the variable; values of
 * `secret` settings are shown as `***`.
 */
export function loadFromEnv<S extends z.ZodType<Record<string, unknown>>>(spec: {
  what: string;
  schema: S;
  env: Readonly<Record<string, readonly string[]>>;
  defaults: Readonly<Record<string, unknown>>;
  overrides?: Readonly<Record<string, unknown>>;
  secret?: ReadonlySet<string>;
  from?: NodeJS.ProcessEnv;
}): z.infer<S> {
  const from = spec.from ?? process.env;
  const raw: Record<string, unknown> = { ...spec.defaults };
  for (const [key, names] of Object.entries(spec.env)) {
    const name = names.find((n) => from[n] !== undefined && from[n] !== '');
    if (name) raw[key] = from[name];
  }
  Object.assign(raw, spec.overrides ?? {});
  const parsed = spec.schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0]);
    const source = spec.env[key]?.find((n) => from[n]) ?? key;
    return `  ${source}=${spec.secret?.has(key) ? '***' : JSON.stringify(raw[key])}: ${issue.message}`;
  });
  throw new ConfigError(`invalid ${spec.what}:\n${lines.join('\n')}`);
}

/** Reads and validates configuration; `overrides` win over the environment. */
export function loadConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  return loadFromEnv({ what: 'configuration', schema, env: ENV, defaults: DEFAULTS, overrides, from: env });
}
