/**
 * Handler of `registry.publish`: stores the artifact as a new immutable model
 * version with its metrics, params and lineage, then promotes it to the alias
 * when the rule holds. Its `files.<alias>` is the artifact behind the alias
 * afterwards (the new one if promoted, else the one already there), so a
 * batch-scoring step can depend on "whatever is in production".
 */
import type { PublishOutput, StepInput, registryPublish } from '../../flows/index.js';
import type { Backends } from '../backends/index.js';
import { decidePromotion } from '../backends/model-registry.js';
import { StepError } from '../errors.js';
import type { StepContext, StepHandler } from '../registry.js';
import { metricsOf } from './train.js';
import { resolveRef, withScratch } from './files.js';

type PublishInput = StepInput<typeof registryPublish>;

function metricsInput(ctx: StepContext<PublishInput>): Record<string, number> {
  const m = ctx.input.metrics;
  if (!('from' in m) || typeof m.from !== 'string') return m as Record<string, number>;
  if (!(m.from in ctx.deps)) {
    throw new StepError(`input.metrics.from: "${m.from}" is not a dependency of step ${ctx.stepId} (dependencies: ${Object.keys(ctx.deps).join(', ') || 'none'})`, { retryable: false });
  }
  return metricsOf((ctx.deps[m.from] as { metrics?: unknown } | null)?.metrics, `input.metrics.from: step ${m.from}'s output "metrics"`);
}

export function publishHandler(backends: Backends): StepHandler<PublishInput, PublishOutput> {
  return async (ctx) => {
    const { model, promote, params = {}, inputTables = [] } = ctx.input;
    const metrics = metricsInput(ctx);
    const uri = resolveRef(ctx, ctx.input.artifact, 'input.artifact');
    const registry = backends.registry();
    return withScratch(ctx, async (dir) => {
      const local = await backends.store().localCopy(uri, dir);
      const version = await registry.publish({
        model,
        artifactPath: local,
        artifactName: uri.slice(uri.lastIndexOf('/') + 1),
        metrics,
        params,
        lineage: { pipeline: ctx.pipeline, runId: ctx.runId, stepId: ctx.stepId, logicalTime: ctx.logicalTime, inputTables },
      });
      ctx.log(`published ${model} version ${version.version} (${version.artifact.uri})`);
      const files: Record<string, string> = { model: version.artifact.uri };
      if (!promote) return { uri: version.artifact.uri, files, model, version: version.version, promoted: false, decision: 'no promotion rule' };
      const current = await registry.get(model, promote.alias);
      if (current?.version === version.version) {
        files[promote.alias] = version.artifact.uri;
        return { uri: version.artifact.uri, files, model, version: version.version, promoted: true, decision: `already ${promote.alias}`, aliasVersion: version.version };
      }
      const decision = decidePromotion(metrics, current, promote);
      if (decision.promote) await registry.promote(model, version.version, promote.alias, `${ctx.pipeline}/${ctx.runId}: ${decision.reason}`);
      const behind = decision.promote ? version : current;
      if (behind) files[promote.alias] = behind.artifact.uri;
      ctx.log(`${decision.promote ? 'promoted' : 'not promoted'} to ${promote.alias}: ${decision.reason}`);
      return {
        uri: version.artifact.uri,
        files,
        model,
        version: version.version,
        promoted: decision.promote,
        decision: decision.reason,
        ...(behind ? { aliasVersion: behind.version } : {}),
      };
    });
  };
}
