/** The small error vocabulary of definitions. */
import type { Problem } from './types.js';

export function formatProblem(p: Problem): string {
  const where = [`pipeline ${p.pipeline}`];
  if (p.step !== undefined) where.push(`step ${p.step}`);
  if (p.path !== undefined) where.push(p.path);
  return `${where.join(', ')}: ${p.message}`;
}

/** One or more definitions are invalid; `problems` lists every one found. */
export class PipelineDefinitionError extends Error {
  override name = 'PipelineDefinitionError';
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in pipeline definitions:\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join('\n'),
    );
    this.problems = problems;
  }
}

/** A run request is invalid (unknown param, wrong type, bad key). Nothing was enqueued. */
export class RunRequestError extends Error {
  override name = 'RunRequestError';
}
