/**
 * The object store on Google Cloud Storage (@google-cloud/storage). Every call
 * goes through the store's circuit breaker. Uploads are single-request
 * (multipart) uploads; `ifAbsent` writes use the `ifGenerationMatch: 0`
 * precondition, so exactly one of two racing writers creates the object.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { StepError } from '../errors.js';
import type { Breaker } from './breaker.js';
import type { ObjectStore } from './object-store.js';

export interface GcsStoreOptions {
  bucket: string;
  breaker: Breaker;
  /** Passed to `new Storage()`: projectId, credentials, apiEndpoint (tests). */
  client?: StorageOptions;
}

function status(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export class GcsObjectStore implements ObjectStore {
  readonly kind = 'gcs';
  private readonly storage: Storage;

  constructor(private readonly opts: GcsStoreOptions) {
    this.storage = new Storage(opts.client ?? {});
  }

  private get bucket() {
    return this.storage.bucket(this.opts.bucket);
  }

  uri(key: string): string {
    return `gs://${this.opts.bucket}/${key}`;
  }

  keyOf(uri: string): string {
    const head = `gs://${this.opts.bucket}/`;
    if (!uri.startsWith(head) || uri.length === head.length) {
      throw new StepError(`${uri}: not in the object store (expected gs://${this.opts.bucket}/…)`, { retryable: false });
    }
    return uri.slice(head.length);
  }

  /** One API call through the breaker; failures become StepErrors (retryable for 5xx, 408, 429, network). */
  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.opts.breaker.call(async () => {
      try {
        return await fn();
      } catch (err) {
        const code = status(err);
        const retryable = code === undefined || code >= 500 || code === 408 || code === 429;
        throw new StepError(`GCS ${what}: ${(err as Error).message}`, { retryable, cause: err });
      }
    });
  }

  async upload(localPath: string, key: string): Promise<string> {
    await this.call(`upload of ${localPath} to ${this.uri(key)}`, () => this.bucket.upload(localPath, { destination: key, resumable: false }));
    return this.uri(key);
  }

  async localCopy(uri: string, dir: string): Promise<string> {
    const key = this.keyOf(uri);
    const dest = join(dir, 'downloads', ...key.split('/'));
    await mkdir(join(dest, '..'), { recursive: true });
    await this.call(`download of ${uri}`, () => this.bucket.file(key).download({ destination: dest, validation: false }));
    return dest;
  }

  async write(key: string, data: Buffer | string, opts: { ifAbsent?: boolean } = {}): Promise<boolean> {
    try {
      await this.call(`write of ${this.uri(key)}`, () =>
        this.bucket.file(key).save(data, {
          resumable: false,
          validation: false,
          ...(opts.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
        }),
      );
      return true;
    } catch (err) {
      if (opts.ifAbsent && status((err as StepError).cause) === 412) return false;
      throw err;
    }
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      const [buf] = await this.call(`read of ${this.uri(key)}`, () => this.bucket.file(key).download({ validation: false }));
      return buf;
    } catch (err) {
      if (status((err as StepError).cause) === 404) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const [files] = await this.call(`list of ${this.uri(prefix)}`, () => this.bucket.getFiles({ prefix, autoPaginate: true }));
    return files.map((f) => f.name).sort();
  }
}
