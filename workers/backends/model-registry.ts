/**
 * The model registry, kept in the object store:
 *
 *   <prefix><model>/versions/000001.json      manifest of version 1 (immutable)
 *   <prefix><model>/artifacts/<sha256>/<file>  the artifact, content-addressed
 *   <prefix><model>/aliases/<alias>.json       { version, … } (e.g. production)
 *
 * A version is claimed by creating its manifest with "write if absent" (an
 * exclusive link locally, `ifGenerationMatch: 0` on GCS), after its artifact
 * is stored, so two publishers never get the same number and a manifest never
 * points at a missing artifact. Every call goes through the `registry` breaker.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { StepError } from '../errors.js';
import type { Breaker } from './breaker.js';
import type { ObjectStore } from './object-store.js';

export interface ModelLineage {
  pipeline: string;
  runId: string;
  stepId: string;
  logicalTime: string;
  inputTables: string[];
}

export interface ModelVersion {
  model: string;
  version: number;
  createdAt: string;
  artifact: { uri: string; sha256: string; name: string };
  metrics: Record<string, number>;
  params: Record<string, string | number | boolean>;
  lineage: ModelLineage;
}

export interface AliasRecord {
  alias: string;
  version: number;
  at: string;
  previous: number | null;
  reason: string;
}

export interface PromotionRule {
  metric: string;
  direction?: 'max' | 'min';
  threshold?: number;
  beatCurrent?: boolean;
}

/** Whether `candidate` should take the alias from `current`, and why (pure). */
export function decidePromotion(
  candidate: Record<string, number>,
  current: ModelVersion | undefined,
  rule: PromotionRule,
): { promote: boolean; reason: string } {
  const value = candidate[rule.metric];
  if (value === undefined || !Number.isFinite(value)) {
    return { promote: false, reason: `metric ${rule.metric} missing (have ${Object.keys(candidate).join(', ') || 'none'})` };
  }
  const max = (rule.direction ?? 'max') === 'max';
  const better = (a: number, b: number): boolean => (max ? a > b : a < b);
  if (rule.threshold !== undefined && (max ? value < rule.threshold : value > rule.threshold)) {
    return { promote: false, reason: `${rule.metric}=${value} does not reach the threshold ${max ? '≥' : '≤'} ${rule.threshold}` };
  }
  const cur = current?.metrics[rule.metric];
  if ((rule.beatCurrent ?? true) && current && cur !== undefined && !better(value, cur)) {
    return { promote: false, reason: `${rule.metric}=${value} does not beat version ${current.version} (${cur})` };
  }
  const vs = current ? (cur !== undefined ? ` (version ${current.version}: ${cur})` : ` (version ${current.version} has no ${rule.metric})`) : ' (no current version)';
  return { promote: true, reason: `${rule.metric}=${value}${vs}` };
}

const pad = (n: number): string => String(n).padStart(6, '0');

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export class ModelRegistry {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly breaker: Breaker,
  ) {}

  private key(model: string, rest: string): string {
    return `${this.prefix}${model}/${rest}`;
  }

  private async json<T>(key: string): Promise<T | undefined> {
    const buf = await this.store.read(key);
    return buf === undefined ? undefined : (JSON.parse(buf.toString('utf8')) as T);
  }

  private async versionNumbers(model: string): Promise<number[]> {
    const keys = await this.store.list(this.key(model, 'versions/'));
    return keys.map((k) => Number(/(\d+)\.json$/.exec(k)?.[1])).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b);
  }

  /** Model names. */
  models(): Promise<string[]> {
    return this.breaker.call(async () => {
      const keys = await this.store.list(this.prefix);
      return [...new Set(keys.map((k) => k.slice(this.prefix.length).split('/')[0]!).filter(Boolean))].sort();
    });
  }

  /** Every version of a model, oldest first. */
  versions(model: string): Promise<ModelVersion[]> {
    return this.breaker.call(async () => {
      const nums = await this.versionNumbers(model);
      const all = await Promise.all(nums.map((n) => this.json<ModelVersion>(this.key(model, `versions/${pad(n)}.json`))));
      return all.filter((v): v is ModelVersion => v !== undefined);
    });
  }

  /** A version by number, or the version behind an alias. */
  get(model: string, ref: number | string): Promise<ModelVersion | undefined> {
    return this.breaker.call(async () => {
      let n = typeof ref === 'number' ? ref : Number(ref);
      if (!Number.isInteger(n)) {
        const alias = await this.json<AliasRecord>(this.key(model, `aliases/${ref}.json`));
        if (!alias) return undefined;
        n = alias.version;
      }
      return this.json<ModelVersion>(this.key(model, `versions/${pad(n)}.json`));
    });
  }

  aliases(model: string): Promise<AliasRecord[]> {
    return this.breaker.call(async () => {
      const keys = await this.store.list(this.key(model, 'aliases/'));
      const all = await Promise.all(keys.filter((k) => k.endsWith('.json')).map((k) => this.json<AliasRecord>(k)));
      return all.filter((a): a is AliasRecord => a !== undefined);
    });
  }

  /**
   * Stores a new version. A retry of the same step with the same artifact
   * returns the version it already made instead of making another.
   */
  publish(spec: {
    model: string;
    artifactPath: string;
    artifactName?: string;
    metrics: Record<string, number>;
    params: Record<string, string | number | boolean>;
    lineage: ModelLineage;
  }): Promise<ModelVersion> {
    return this.breaker.call(async () => {
      const hash = await sha256(spec.artifactPath);
      const name = spec.artifactName ?? basename(spec.artifactPath);
      const nums = await this.versionNumbers(spec.model);
      for (const n of nums.slice(-10)) {
        const v = await this.json<ModelVersion>(this.key(spec.model, `versions/${pad(n)}.json`));
        if (v && v.lineage.runId === spec.lineage.runId && v.lineage.stepId === spec.lineage.stepId && v.artifact.sha256 === hash) return v;
      }
      const uri = await this.store.upload(spec.artifactPath, this.key(spec.model, `artifacts/${hash}/${name}`));
      let next = (nums.at(-1) ?? 0) + 1;
      for (let tries = 0; tries < 50; tries++, next++) {
        const manifest: ModelVersion = {
          model: spec.model,
          version: next,
          createdAt: new Date().toISOString(),
          artifact: { uri, sha256: hash, name },
          metrics: spec.metrics,
          params: spec.params,
          lineage: spec.lineage,
        };
        const created = await this.store.write(this.key(spec.model, `versions/${pad(next)}.json`), JSON.stringify(manifest, null, 2), { ifAbsent: true });
        if (created) return manifest;
      }
      throw new StepError(`model ${spec.model}: could not claim a version number after 50 tries (many concurrent publishers?)`);
    });
  }

  /** Points `alias` at `version` (which must exist). */
  promote(model: string, version: number, alias: string, reason: string): Promise<AliasRecord> {
    return this.breaker.call(async () => {
      const v = await this.json<ModelVersion>(this.key(model, `versions/${pad(version)}.json`));
      if (!v) throw new StepError(`model ${model} has no version ${version}`, { retryable: false });
      const current = await this.json<AliasRecord>(this.key(model, `aliases/${alias}.json`));
      const record: AliasRecord = { alias, version, at: new Date().toISOString(), previous: current?.version ?? null, reason };
      await this.store.write(this.key(model, `aliases/${alias}.json`), JSON.stringify(record, null, 2));
      return record;
    });
  }
}
