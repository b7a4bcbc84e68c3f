/** Handlers of `warehouse.extract`, `warehouse.load`, `warehouse.query` and `warehouse.write`. */
import { join } from 'node:path';
import type {
  ExtractOutput,
  LoadOutput,
  QueryOutput,
  StepInput,
  WriteOutput,
  warehouseExtract,
  warehouseLoad,
  warehouseQuery,
  warehouseWrite,
} from '../../flows/index.js';
import type { Backends } from '../backends/index.js';
import { formatOf, reshapeFile } from '../backends/files.js';
import type { StepContext, StepHandler } from '../registry.js';
import { StepError } from '../errors.js';
import { outputKey, resolveRef, withScratch } from './files.js';

export function extractHandler(backends: Backends): StepHandler<StepInput<typeof warehouseExtract>, ExtractOutput> {
  return async (ctx) => {
    const format = ctx.input.format ?? 'parquet';
    const name = ctx.input.name ?? `${ctx.stepId}.${format}`;
    return withScratch(ctx, async (dir) => {
      const local = join(dir, name);
      const started = Date.now();
      const { rows } = await backends.warehouse().extractToFile(ctx.input.sql, ctx.input.params ?? {}, local, format);
      ctx.log(`query returned ${rows} rows in ${Date.now() - started} ms`);
      const uri = await backends.store().upload(local, outputKey(backends, ctx, name));
      ctx.log(`wrote ${uri}`);
      return { uri, files: { [name.replace(/\.[^.]*$/, '')]: uri }, format, rows };
    });
  };
}

function sourcesOf(backends: Backends, ctx: StepContext, refs: StepInput<typeof warehouseLoad>['files'], dir: string) {
  const list = Array.isArray(refs) ? refs : [refs];
  return list.map((ref, i) => {
    const uri = resolveRef(ctx, ref, Array.isArray(refs) ? `input.files.${i}` : 'input.files');
    return { uri, local: () => backends.store().localCopy(uri, dir) };
  });
}

export function loadHandler(backends: Backends): StepHandler<StepInput<typeof warehouseLoad>, LoadOutput> {
  return async (ctx) => {
    const { table, writeDisposition, schema } = ctx.input;
    return withScratch(ctx, async (dir) => {
      const sources = sourcesOf(backends, ctx, ctx.input.files, dir);
      const format = ctx.input.format ?? formatOf(sources[0]!.uri);
      const { rows } = await backends.warehouse().load(table, sources, { format, writeDisposition, ...(schema ? { schema } : {}) });
      ctx.log(`loaded ${rows} rows from ${sources.length} file(s) into ${table} (${writeDisposition})`);
      return { table, rows, writeDisposition };
    });
  };
}

export function queryHandler(backends: Backends): StepHandler<StepInput<typeof warehouseQuery>, QueryOutput> {
  return async (ctx) => {
    const { sql, params = {}, destination } = ctx.input;
    const res = await backends.warehouse().query(sql, params, destination ? { destination } : {});
    ctx.log(`${res.statements} statement(s); last: ${res.rowCount} rows${destination ? ` into ${destination.table} (${destination.writeDisposition})` : ''}`);
    return { rows: res.rows, rowCount: res.rowCount, statements: res.statements, ...(destination ? { destination: destination.table } : {}) };
  };
}

/**
 * Writes a batch output file to a table: the declared columns (cast to their
 * types) plus the partition column. With a partition, the file is loaded into
 * a staging table first, then the partition's old rows are replaced in one
 * transaction, so a rerun replaces rather than duplicates and readers never
 * see the partition missing or half written.
 */
export function writeHandler(backends: Backends): StepHandler<StepInput<typeof warehouseWrite>, WriteOutput> {
  return async (ctx) => {
    const { table, columns, partition, writeDisposition = 'append' } = ctx.input;
    if (partition && partition.column in columns) {
      throw new StepError(`input.partition.column: "${partition.column}" is also in input.columns; it is added by the step`, { retryable: false });
    }
    const uri = resolveRef(ctx, ctx.input.from, 'input.from');
    return withScratch(ctx, async (dir) => {
      const src = await backends.store().localCopy(uri, dir);
      const shaped = join(dir, 'rows.ndjson');
      const constant = partition ? { [partition.column]: partition.value } : {};
      const count = await reshapeFile(src, shaped, columns, constant);
      const schema = { ...columns, ...(partition ? { [partition.column]: typeof partition.value === 'number' ? 'DOUBLE' : 'VARCHAR' } : {}) };
      const warehouse = backends.warehouse();
      const local = async (): Promise<string> => shaped;
      const files = [{ uri: `file://${shaped}`, local }];
      let replaced = 0;
      let rows: number;
      if (partition && writeDisposition === 'append') {
        const staging = `${table}__staging_${ctx.runId.replace(/[^A-Za-z0-9_]/g, '_')}`;
        ({ rows } = await warehouse.load(staging, files, { format: 'ndjson', writeDisposition: 'truncate', schema }));
        try {
          await warehouse.ensureTable(table, schema);
          const where = `${partition.column} = @partition`;
          const old = await warehouse.query(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, { partition: partition.value });
          replaced = Number(old.rows[0]?.n ?? 0);
          const cols = Object.keys(schema).join(', ');
          await warehouse.query([`DELETE FROM ${table} WHERE ${where}`, `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${staging}`], { partition: partition.value }, { atomic: true });
        } finally {
          await warehouse.query(`DROP TABLE IF EXISTS ${staging}`, {});
        }
      } else {
        ({ rows } = await warehouse.load(table, files, { format: 'ndjson', writeDisposition, schema }));
      }
      ctx.log(`wrote ${rows} rows to ${table}${partition ? ` (${partition.column}=${partition.value}; replaced ${replaced})` : ''}`);
      if (count !== rows) ctx.log(`note: the file had ${count} rows, the warehouse reports ${rows} loaded`);
      return { table, rows, replaced };
    });
  };
}
