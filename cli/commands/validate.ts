/** `bullpen validate [path]`: check every pipeline, report every problem, enqueue nothing. */
import type { Command } from 'commander';
import { loadConfig } from '../../common/config.js';
import { loadValidated } from '../app.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check pipeline definitions (cycles, unknown steps and types, inputs, cron, params); exits 2 on any problem')
    .argument('[path]', 'pipelines folder or file (default: BULLPEN_PIPELINES or ./pipelines)')
    .option('--json', 'print the result as JSON')
    .action(async (path: string | undefined, opts: { json?: boolean }) => {
      const { pipelines } = await loadValidated(path ?? loadConfig().pipelinesDir);
      if (opts.json) {
        console.log(JSON.stringify({ ok: true, pipelines: pipelines.map((p) => ({ id: p.id, steps: p.steps.length, source: p.source })) }));
      } else {
        for (const p of pipelines) console.log(`ok  ${p.id} (${p.steps.length} step${p.steps.length === 1 ? '' : 's'}, ${p.source})`);
        console.log(`${pipelines.length} pipeline${pipelines.length === 1 ? '' : 's'} valid`);
      }
    });
}
