/** A registry with the built-in step types. */
import { shell, taskType, type PipelineDefinition } from '../flows/index.js';
import { StepRegistry } from './registry.js';
import { runShell } from './steps/shell.js';
import { taskHandler } from './steps/task.js';

export function builtinRegistry(pipelines: readonly PipelineDefinition[]): StepRegistry {
  return new StepRegistry().register(shell, runShell).register(taskType, taskHandler(pipelines));
}
