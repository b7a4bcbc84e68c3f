/**
 * The object store as a local directory (the embedded default). Writes go to
 * a temporary file first and are renamed into place, so a reader never sees a
 * half-written object; `ifAbsent` uses an exclusive link.
 */
import { randomBytes } from 'node:crypto';
import { access, copyFile, link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StepError } from '../errors.js';
import type { ObjectStore } from './object-store.js';

function checkKey(key: string): void {
  if (!key || key.startsWith('/') || key.split('/').some((p) => p === '..' || p === '.' || p === '')) {
    throw new StepError(`invalid object key "${key}": use relative paths like "runs/a/b.parquet"`, { retryable: false });
  }
}

export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local';

  constructor(readonly root: string) {}

  private path(key: string): string {
    checkKey(key);
    return join(this.root, ...key.split('/'));
  }

  uri(key: string): string {
    return pathToFileURL(this.path(key)).href;
  }

  keyOf(uri: string): string {
    if (!uri.startsWith('file://')) throw new StepError(`${uri}: not in the local object store (expected a file:// URI under ${this.root})`, { retryable: false });
    const rel = relative(this.root, fileURLToPath(uri));
    if (rel.startsWith('..') || rel === '') throw new StepError(`${uri}: outside the local object store ${this.root}`, { retryable: false });
    return rel.split(sep).join('/');
  }

  private async atomicWrite(target: string, fill: (tmp: string) => Promise<void>): Promise<string> {
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await fill(tmp);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return tmp;
  }

  async upload(localPath: string, key: string): Promise<string> {
    const target = this.path(key);
    const tmp = await this.atomicWrite(target, (t) => copyFile(localPath, t));
    await rename(tmp, target);
    return this.uri(key);
  }

  async localCopy(uri: string): Promise<string> {
    const path = this.path(this.keyOf(uri));
    await access(path).catch(() => {
      throw new StepError(`${uri}: no such object`, { retryable: false });
    });
    return path;
  }

  async write(key: string, data: Buffer | string, opts: { ifAbsent?: boolean } = {}): Promise<boolean> {
    const target = this.path(key);
    const tmp = await this.atomicWrite(target, (t) => writeFile(t, data));
    try {
      if (!opts.ifAbsent) {
        await rename(tmp, target);
        return true;
      }
      try {
        await link(tmp, target); // fails with EEXIST: exclusive create of a complete file
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (!e.name.includes('.tmp-')) out.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(base ? join(this.root, ...base.split('/')) : this.root);
    return out.filter((k) => k.startsWith(prefix)).sort();
  }
}
