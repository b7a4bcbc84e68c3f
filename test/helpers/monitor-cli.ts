/**
 * Entry point running `bullpen monitor` from cli/commands/monitor.ts, for
 * tests, until cli/main.ts registers the command: `node --import tsx
 * test/helpers/monitor-cli.ts monitor [options]`.
 */
import { Command } from 'commander';
import { registerMonitor } from '../../cli/commands/monitor.js';

const program = new Command('bullpen').exitOverride();
registerMonitor(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exitCode = 2;
}
