/** `bullpen models list|show|promote`: the model registry (in the configured object store). */
import type { Command } from 'commander';
import { loadBackendConfig } from '../../common/backend-config.js';
import { createBackends } from '../../workers/backends/index.js';
import type { ModelRegistry, ModelVersion } from '../../workers/backends/model-registry.js';
import { UsageError } from '../app.js';
import { summary, table } from '../format.js';

async function withRegistry<T>(fn: (registry: ModelRegistry) => Promise<T>): Promise<T> {
  const backends = createBackends(loadBackendConfig());
  try {
    return await fn(backends.registry());
  } finally {
    await backends.close();
  }
}

function metricsText(m: Record<string, number>): string {
  return summary(Object.entries(m).map(([k, v]) => `${k}=${v}`).join(' '), 60);
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('model registry: versions, metrics, lineage, aliases');

  models
    .command('list')
    .description('models (or one model\'s versions, newest first) with their aliases')
    .argument('[model]', 'a model name')
    .option('--json', 'print JSON')
    .action(async (model: string | undefined, o: { json?: boolean }) => {
      await withRegistry(async (registry) => {
        if (model === undefined) {
          const names = await registry.models();
          const rows = await Promise.all(
            names.map(async (name) => {
              const [versions, aliases] = await Promise.all([registry.versions(name), registry.aliases(name)]);
              return { model: name, versions: versions.length, latest: versions.at(-1)?.version ?? null, aliases: Object.fromEntries(aliases.map((a) => [a.alias, a.version])) };
            }),
          );
          if (o.json) return console.log(JSON.stringify(rows));
          if (!rows.length) return console.log('no models yet');
          console.log(table(['MODEL', 'VERSIONS', 'LATEST', 'ALIASES'], rows.map((r) => [r.model, String(r.versions), String(r.latest ?? '-'), Object.entries(r.aliases).map(([a, v]) => `${a}=${v}`).join(' ') || '-'])));
          return;
        }
        const [versions, aliases] = await Promise.all([registry.versions(model), registry.aliases(model)]);
        if (!versions.length) throw new UsageError(`unknown model "${model}" (known: ${(await registry.models()).join(', ') || 'none'})`);
        if (o.json) return console.log(JSON.stringify({ versions: [...versions].reverse(), aliases }));
        const aliasOf = (v: number): string => aliases.filter((a) => a.version === v).map((a) => a.alias).join(' ');
        console.log(
          table(
            ['VERSION', 'CREATED', 'RUN', 'LOGICAL TIME', 'METRICS', 'ALIASES'],
            [...versions].reverse().map((v) => [String(v.version), v.createdAt.slice(0, 19), v.lineage.runId, v.lineage.logicalTime.slice(0, 16), metricsText(v.metrics), aliasOf(v.version) || '-']),
          ),
        );
      });
    });

  models
    .command('show')
    .description('one version: artifact, metrics, params, lineage (default: the production alias, else the latest)')
    .argument('<model>')
    .argument('[version]', 'a version number or an alias')
    .option('--json', 'print JSON')
    .action(async (model: string, ref: string | undefined, o: { json?: boolean }) => {
      await withRegistry(async (registry) => {
        let v: ModelVersion | undefined;
        if (ref !== undefined) v = await registry.get(model, /^\d+$/.test(ref) ? Number(ref) : ref);
        else v = (await registry.get(model, 'production')) ?? (await registry.versions(model)).at(-1);
        if (!v) throw new UsageError(`model "${model}" has no version ${ref ?? '(none published)'}`);
        const aliases = (await registry.aliases(model)).filter((a) => a.version === v.version).map((a) => a.alias);
        if (o.json) return console.log(JSON.stringify({ ...v, aliases }));
        console.log(`${v.model} version ${v.version}${aliases.length ? ` (${aliases.join(', ')})` : ''}, created ${v.createdAt}`);
        console.log(`artifact  ${v.artifact.uri}\n          sha256 ${v.artifact.sha256}`);
        console.log(`metrics   ${Object.entries(v.metrics).map(([k, x]) => `${k}=${x}`).join('  ')}`);
        console.log(`params    ${Object.entries(v.params).map(([k, x]) => `${k}=${x}`).join('  ') || '-'}`);
        console.log(`lineage   pipeline ${v.lineage.pipeline}, run ${v.lineage.runId}, step ${v.lineage.stepId}, logical time ${v.lineage.logicalTime}`);
        console.log(`          input tables ${v.lineage.inputTables.join(', ') || '-'}`);
      });
    });

  models
    .command('promote')
    .description('point an alias (default production) at a version')
    .argument('<model>')
    .argument('<version>')
    .option('--alias <alias>', 'alias to move', 'production')
    .option('--reason <text>', 'why (kept with the alias)', 'promoted by hand')
    .action(async (model: string, version: string, o: { alias: string; reason: string }) => {
      if (!/^\d+$/.test(version)) throw new UsageError(`version ${version}: expected a version number`);
      if (!/^[a-z][a-z0-9-]*$/.test(o.alias)) throw new UsageError(`--alias ${o.alias}: lower-case letters, digits and "-"`);
      await withRegistry(async (registry) => {
        if (!(await registry.get(model, Number(version)))) throw new UsageError(`model "${model}" has no version ${version}`);
        const rec = await registry.promote(model, Number(version), o.alias, o.reason);
        console.log(`${model}: ${o.alias} → version ${rec.version} (was ${rec.previous ?? 'unset'})`);
      });
    });
}
