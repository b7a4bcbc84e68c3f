/**
 * The object store: where step files (extracts, transform outputs, model
 * artifacts) live between steps. Keys are `/`-separated paths; URIs name the
 * backend (`file:///…` for the local directory, `gs://bucket/…` for GCS).
 */

export interface ObjectStore {
  /** `local` or `gcs`. */
  readonly kind: string;
  /** The URI of a key, e.g. `gs://bucket/runs/x/extract.parquet`. */
  uri(key: string): string;
  /** The key of a URI of this store; throws a StepError naming the URI otherwise. */
  keyOf(uri: string): string;
  /** Uploads a local file to `key`, replacing what is there; returns its URI. */
  upload(localPath: string, key: string): Promise<string>;
  /**
   * A local path holding the object's bytes: the file itself for the local
   * store, a download into `dir` otherwise.
   */
  localCopy(uri: string, dir: string): Promise<string>;
  /** Writes bytes; with `ifAbsent`, returns false (and writes nothing) when the key exists. */
  write(key: string, data: Buffer | string, opts?: { ifAbsent?: boolean }): Promise<boolean>;
  /** Reads an object; undefined when it does not exist. */
  read(key: string): Promise<Buffer | undefined>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}

/** Object key of a step's output file: `runs/<pipeline>/<run id>/<step id>/<name>`. */
export function runFileKey(prefix: string, ctx: { pipeline: string; runId: string; stepId: string }, name: string): string {
  return `${prefix}runs/${ctx.pipeline}/${ctx.runId}/${ctx.stepId}/${name}`;
}
