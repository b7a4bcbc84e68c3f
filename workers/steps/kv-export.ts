/**
 * Handler of `kv.export`: reads keyed rows from a file (NDJSON or Parquet) and
 * exports them to the serving store as a new version; readers switch to it in
 * one step once every batch is stored.
 */
import type { KvExportOutput, StepInput, kvExport } from '../../flows/index.js';
import type { Backends } from '../backends/index.js';
import { readBatches } from '../backends/files.js';
import { StepError } from '../errors.js';
import type { StepHandler } from '../registry.js';
import { resolveRef, withScratch } from './files.js';

export function kvExportHandler(backends: Backends): StepHandler<StepInput<typeof kvExport>, KvExportOutput> {
  return async (ctx) => {
    const { namespace, key, value, batchSize = 1000, previousTtlSeconds = 3600 } = ctx.input;
    const uri = resolveRef(ctx, ctx.input.from, 'input.from');
    return withScratch(ctx, async (dir) => {
      const path = await backends.store().localCopy(uri, dir);
      let lastProgress = 0;
      const res = await backends.serving().export({
        namespace,
        previousTtlSeconds,
        signal: ctx.signal,
        rows: (write) =>
          readBatches(
            path,
            batchSize,
            async (rows) => {
              const batch = rows.map((row, i) => {
                const k = row[key];
                if (k === undefined || k === null) {
                  throw new StepError(`${uri}: row ${i} of a batch has no "${key}" (input.key); columns: ${Object.keys(row).join(', ')}`, { retryable: false });
                }
                const v = value ? Object.fromEntries(value.map((c) => [c, row[c]])) : Object.fromEntries(Object.entries(row).filter(([c]) => c !== key));
                return { key: String(k), value: JSON.stringify(v) };
              });
              if (value) {
                const missing = value.filter((c) => !(c in (rows[0] ?? {})));
                if (missing.length) throw new StepError(`input.value: ${uri} has no column ${missing.join(', ')}`, { retryable: false });
              }
              await write(batch);
            },
            ctx.signal,
          ),
        onBatch: (n) => {
          if (n - lastProgress >= batchSize * 10) {
            lastProgress = n;
            ctx.log(`${n} keys written`);
          }
        },
      });
      ctx.log(`serving store: ${namespace} now at version ${res.version} (${res.keys} keys); previous ${res.previous ?? 'none'} expires in ${previousTtlSeconds} s`);
      return { namespace, version: res.version, keys: res.keys, previousVersion: res.previous };
    });
  };
}
