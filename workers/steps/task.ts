/** Handler of `task` steps: the TypeScript function from the pipeline definition. */
import type { PipelineDefinition } from '../../flows/index.js';
import { StepError } from '../errors.js';
import { taskIndex, type StepHandler } from '../registry.js';

export function taskHandler(pipelines: readonly PipelineDefinition[]): StepHandler {
  const index = taskIndex(pipelines);
  return async (ctx) => {
    const run = index.get(ctx.pipeline)?.get(ctx.stepId);
    if (!run) {
      throw new StepError(
        `no task function for pipeline ${ctx.pipeline}, step ${ctx.stepId} in this worker's pipelines (is it deployed with the same pipeline code?)`,
        { retryable: false },
      );
    }
    return run(ctx);
  };
}
