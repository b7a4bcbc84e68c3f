/**
 * prom-client metrics whose values live in Redis (written by the tally):
 * read at scrape time, so every replica reports the same series and a
 * restarted process continues where the counts were.
 */
import type { Redis } from 'ioredis';
import type { MetricObjectWithValues, MetricValue, MetricValueWithName, Registry } from 'prom-client';
import type { StoredDef } from './metric-defs.js';

type Values = (MetricValue<string> | MetricValueWithName<string>)[];

/** A metric as prom-client's registry reads it: `get()` returns its current values. */
export class ReadOnScrape {
  readonly aggregator = 'sum' as const;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly read: () => Promise<Values>,
  ) {}

  async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const values = await this.read();
    return { name: this.name, help: this.help, type: this.type as never, aggregator: this.aggregator, collect: () => undefined, values };
  }

  reset(): void {}

  register(registry: Registry): this {
    registry.registerMetric(this as never);
    return this;
  }
}

function labelsOf(def: StoredDef, values: readonly string[]): Record<string, string> | undefined {
  if (values.length !== def.labels.length) return undefined;
  return Object.fromEntries(def.labels.map((l, i) => [l, values[i]!]));
}

/** Series of a stored counter; `zeros` lists label sets reported as 0 until counted (so `increase()` sees the first one). */
export function storedCounter(redis: Redis, hashKey: string, def: StoredDef, zeros: () => string[][]): ReadOnScrape {
  return new ReadOnScrape(def.name, def.help, 'counter', async () => {
    const all = await redis.hgetall(hashKey);
    const series = new Map<string, number>(zeros().map((v) => [v.join('|'), 0]));
    for (const [f, v] of Object.entries(all)) {
      if (f.startsWith(`${def.name}|`)) series.set(f.slice(def.name.length + 1), Number(v));
    }
    return [...series].flatMap(([k, value]) => {
      const labels = labelsOf(def, k.split('|'));
      return labels ? [{ labels, value }] : [];
    });
  });
}

/** Series of a stored histogram, with cumulative `le` buckets, `_sum` and `_count`. */
export function storedHistogram(redis: Redis, hashKey: string, def: StoredDef): ReadOnScrape {
  const buckets = def.buckets!;
  return new ReadOnScrape(def.name, def.help, 'histogram', async () => {
    const all = await redis.hgetall(hashKey);
    const series = new Map<string, { counts: number[]; sum: number; count: number }>();
    for (const [f, v] of Object.entries(all)) {
      if (!f.startsWith(`${def.name}|`)) continue;
      const parts = f.slice(def.name.length + 1).split('|');
      const part = parts.pop()!;
      const k = parts.join('|');
      let s = series.get(k);
      if (!s) series.set(k, (s = { counts: new Array<number>(buckets.length + 1).fill(0), sum: 0, count: 0 }));
      if (part === 'sum') s.sum = Number(v);
      else if (part === 'count') s.count = Number(v);
      else if (/^b\d+$/.test(part)) s.counts[Number(part.slice(1))] = Number(v);
    }
    const out: Values = [];
    for (const [k, s] of series) {
      const labels = labelsOf(def, k.split('|'));
      if (!labels) continue;
      let cumulative = 0;
      buckets.forEach((le, i) => {
        cumulative += s.counts[i] ?? 0;
        out.push({ metricName: `${def.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      out.push({ metricName: `${def.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
      out.push({ metricName: `${def.name}_sum`, labels, value: s.sum });
      out.push({ metricName: `${def.name}_count`, labels, value: s.count });
    }
    return out;
  });
}
