/**
 * ML step types: declarations only (input schemas and output types); the
 * handlers and backends live in workers/. Large data moves by reference: a
 * step that writes files outputs their URIs, and a later step names them with
 * a `FileRef` — a URI, or `{ from: 'stepId', file?: 'name' }` meaning "that
 * dependency's output file" (its `uri`, or `files[name]`).
 */
import { z } from 'zod';
import { defineStepType, type DepsOf, type StepSpec } from './define.js';
import type { StepDefinition, StepRef, TaskContext, TaskHandler } from './types.js';

/** A file: an object store URI (`gs://…`, `file://…`) or a dependency's output. */
export const fileRef = z.union([
  z.string().regex(/^(gs|file):\/\/./, 'must be a gs:// or file:// URI, or { from: "<step id>" }'),
  z.strictObject({
    /** Id of a dependency whose output holds the file. */
    from: z.string().min(1),
    /** Name in the dependency's `files`; without it, its `uri`. */
    file: z.string().min(1).optional(),
  }),
]);
export type FileRef = z.infer<typeof fileRef>;

/** Output of a step that wrote files: `uri` is the main one, `files` all by name. */
export interface FilesOutput {
  uri: string;
  files: Record<string, string>;
}

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
/** Named SQL parameters, written `@name` in the SQL; values are bound, never spliced. */
export const sqlParams = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'parameter names are identifiers'), z.union([scalar, z.array(scalar)]));
const table = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'must be a table name like "events" or "dataset.events"');
export const writeDisposition = z.enum(['append', 'truncate']);
export type WriteDisposition = z.infer<typeof writeDisposition>;
const fileFormat = z.enum(['ndjson', 'parquet']);
export type FileFormat = z.infer<typeof fileFormat>;
/** Column name → warehouse type (`BIGINT`, `DOUBLE`, `VARCHAR`, `TIMESTAMP`, `DOUBLE[]`, …). */
export const columns = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'column names are identifiers'), z.string().min(1));
const objectName = z.string().regex(/^[A-Za-z0-9._-]+$/, 'a file name: letters, digits, ".", "_", "-"');

export interface ExtractOutput extends FilesOutput {
  format: FileFormat;
  rows: number;
}

/** Runs a query and writes its result to a file in the object store. */
export const warehouseExtract = defineStepType<ExtractOutput>()({
  name: 'warehouse.extract',
  description: 'run a query, write the result to the object store (NDJSON or Parquet)',
  input: z.strictObject({
    sql: z.string().min(1),
    params: sqlParams.optional(),
    /** @defaultValue parquet */
    format: fileFormat.optional(),
    /** File name under the run's folder. @defaultValue `<step id>.<format>` */
    name: objectName.optional(),
  }),
});

export interface LoadOutput {
  table: string;
  rows: number;
  writeDisposition: WriteDisposition;
}

/** Loads files into a table. */
export const warehouseLoad = defineStepType<LoadOutput>()({
  name: 'warehouse.load',
  description: 'load files (NDJSON or Parquet) into a table',
  input: z.strictObject({
    table,
    files: z.union([fileRef, z.array(fileRef).min(1)]),
    /** @defaultValue from the file extension */
    format: fileFormat.optional(),
    writeDisposition,
    /** Columns of the table; without it, the schema comes from the files. */
    schema: columns.optional(),
  }),
});

export interface QueryOutput {
  /** Rows of the last statement (at most 100), JSON-safe. */
  rows: Record<string, unknown>[];
  rowCount: number;
  statements: number;
  destination?: string;
}

/** Runs SQL statements in order with named parameters, optionally writing the last one's result to a table. */
export const warehouseQuery = defineStepType<QueryOutput>()({
  name: 'warehouse.query',
  description: 'run SQL statements with named parameters, optionally into a table',
  input: z.strictObject({
    sql: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    params: sqlParams.optional(),
    destination: z.strictObject({ table, writeDisposition }).optional(),
  }),
});

export interface WriteOutput {
  table: string;
  rows: number;
  /** Rows of an earlier write of the same partition that were replaced. */
  replaced: number;
}

/** Writes batch outputs (e.g. top-k recommendations, vectors) to a table; idempotent per partition. */
export const warehouseWrite = defineStepType<WriteOutput>()({
  name: 'warehouse.write',
  description: 'write batch outputs to a table (replacing the same partition on a rerun)',
  input: z.strictObject({
    table,
    from: fileRef,
    /** Columns to write and their types (e.g. `{ user_id: 'BIGINT', items: 'BIGINT[]' }`). */
    columns,
    /** `append` adds rows; `truncate` replaces the table. @defaultValue append */
    writeDisposition: writeDisposition.optional(),
    /** A column set to `value` on every row; rows already holding it are replaced (reruns do not duplicate). */
    partition: z.strictObject({ column: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), value: z.union([z.string(), z.number()]) }).optional(),
  }),
});

const argv = z.array(z.string());
const env = z.record(z.string(), z.string());

/** Runs a Python or Node script over input files, writing output files. */
export const transform = defineStepType<FilesOutput>()({
  name: 'transform',
  description: 'run a Python or Node script (argv, no shell) or a TypeScript function over files',
  input: z.strictObject({
    /** Input files by name: the script gets local paths. */
    inputs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), fileRef),
    /** Output file names (e.g. `{ features: 'features.ndjson' }`), written by the script. */
    outputs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), objectName),
    /**
     * The script: `language` picks the interpreter, `args` may hold `{input.<name>}`
     * and `{output.<name>}`, replaced by local paths. Absent: the step's TypeScript function.
     */
    script: z
      .strictObject({ language: z.enum(['python', 'node']), path: z.string().min(1), args: argv.optional(), env: env.optional(), cwd: z.string().optional() })
      .optional(),
  }),
});

export interface TrainOutput extends FilesOutput {
  metrics: Record<string, number>;
  device: 'cuda' | 'cpu';
  durationMs: number;
  python: string;
}

/** Trains a model with a PyTorch script in a subprocess. GPU pool by default. */
export const train = defineStepType<TrainOutput>()({
  name: 'train',
  pool: 'gpu',
  description: 'run a PyTorch training script; stream its log, progress and final metrics',
  input: z.strictObject({
    script: z.string().min(1),
    args: argv.optional(),
    env: env.optional(),
    cwd: z.string().optional(),
    /** Interpreter. @defaultValue BULLPEN_PYTHON, else the first one found that imports torch */
    python: z.string().optional(),
    /** `auto`: `cuda` when torch sees a GPU, else `cpu`. @defaultValue auto */
    device: z.enum(['auto', 'cuda', 'cpu']).optional(),
    /** Input files, given to the script as `--<name> <path>` and `BULLPEN_INPUT_<NAME>`. */
    inputs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), fileRef).optional(),
    /** File in the output folder holding the main artifact. @defaultValue model.pt */
    artifact: objectName.optional(),
    /** JSON metrics file in the output folder (a `@bullpen {"metrics": …}` line also works). @defaultValue metrics.json */
    metricsFile: objectName.optional(),
  }),
});

export interface PublishOutput extends FilesOutput {
  model: string;
  version: number;
  promoted: boolean;
  /** Why it was or was not promoted. */
  decision: string;
  /** Version behind the alias after this step (absent when there is none). */
  aliasVersion?: number;
}

/** Stores a model version (artifact, metrics, params, lineage) in the registry; optionally promotes it. */
export const registryPublish = defineStepType<PublishOutput>()({
  name: 'registry.publish',
  description: 'store a new immutable model version; promote it to an alias when a metric threshold holds',
  input: z.strictObject({
    model: z.string().regex(/^[a-z][a-z0-9-]*$/, 'model names: lower-case letters, digits and "-"'),
    artifact: fileRef,
    /** Metrics: inline, or `{ from: 'train' }` to take that step's `metrics`. */
    metrics: z.union([z.record(z.string(), z.number()), z.strictObject({ from: z.string().min(1) })]),
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** Tables the model was trained from (lineage). */
    inputTables: z.array(z.string()).optional(),
    promote: z
      .strictObject({
        alias: z.string().regex(/^[a-z][a-z0-9-]*$/),
        metric: z.string().min(1),
        /** @defaultValue max */
        direction: z.enum(['max', 'min']).optional(),
        /** The metric must reach this (≥ for max, ≤ for min). */
        threshold: z.number().optional(),
        /** Also beat the version behind the alias now. @defaultValue true */
        beatCurrent: z.boolean().optional(),
      })
      .optional(),
  }),
});

export interface KvExportOutput {
  namespace: string;
  version: number;
  keys: number;
  previousVersion: number | null;
}

/** Pushes keyed rows to the serving Redis under a new version, then switches readers atomically. */
export const kvExport = defineStepType<KvExportOutput>()({
  name: 'kv.export',
  description: 'export keyed rows to the serving store; readers switch atomically to the new version',
  input: z.strictObject({
    namespace: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-"'),
    from: fileRef,
    /** Column holding the key. */
    key: z.string().min(1),
    /** Columns of the value (stored as JSON). @defaultValue every column but the key */
    value: z.array(z.string().min(1)).min(1).optional(),
    /** Rows per pipelined batch. @defaultValue 1000 */
    batchSize: z.number().int().min(1).max(100_000).optional(),
    /** The previous version expires this long after the switch. @defaultValue 3600 */
    previousTtlSeconds: z.number().int().min(1).optional(),
  }),
});

/** What a TypeScript transform function gets: local paths of its input and output files. */
export interface TransformContext<D> extends TaskContext<D> {
  readonly inputs: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
}

/** A `transform` step whose work is a TypeScript function over local files. */
export function transformFn<const Id extends string, const D extends readonly (StepRef | string)[] = []>(
  id: Id,
  spec: StepSpec<D> & {
    inputs: Record<string, FileRef>;
    outputs: Record<string, string>;
    run: (ctx: TransformContext<DepsOf<D>>) => Promise<void> | void;
  },
): StepDefinition<Id, FilesOutput> {
  const { inputs, outputs, run, dependsOn, ...options } = spec;
  return {
    kind: 'bullpen.step',
    id,
    type: transform,
    input: { inputs, outputs },
    dependsOn: (dependsOn ?? []).map((d) => (typeof d === 'string' ? d : d.id)),
    options,
    run: run as unknown as TaskHandler<unknown, unknown>,
  };
}

export const ML_STEP_TYPES = [warehouseExtract, warehouseLoad, warehouseQuery, warehouseWrite, transform, train, registryPublish, kvExport] as const;
