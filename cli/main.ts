/** The `bullpen` command line. Exit codes: 0 ok, 1 a run or step failed, 2 bad input. */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../common/config.js';
import { RedisUnavailableError } from '../common/redis.js';
import { PipelineDefinitionError, RunRequestError } from '../flows/index.js';
import { UsageError } from './app.js';
import { registerDashboard } from './commands/dashboard.js';
import { registerDoctor } from './commands/doctor.js';
import { registerModels } from './commands/models.js';
import { registerMonitor } from './commands/monitor.js';
import { registerRuns } from './commands/runs.js';
import { registerSchedule } from './commands/schedule.js';
import { registerValidate } from './commands/validate.js';
import { registerWorker } from './commands/worker.js';

const program = new Command('bullpen')
  .description('ML pipelines as BullMQ flows: define, validate, run, and work them')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();
registerValidate(program);
registerRuns(program);
registerSchedule(program);
registerMonitor(program);
registerDashboard(program);
registerModels(program);
registerDoctor(program);
registerWorker(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (
    err instanceof UsageError ||
    err instanceof PipelineDefinitionError ||
    err instanceof RunRequestError ||
    err instanceof ConfigError
  ) {
    console.error(`error: ${err.message}`);
    process.exitCode = 2;
  } else if (err instanceof RedisUnavailableError) {
    console.error(`error: ${err.message}`);
    process.exitCode = 3;
  } else {
    console.error(err);
    process.exitCode = 1;
  }
}
