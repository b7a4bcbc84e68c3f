/**
 * Static types of the DSL, checked by `npm run typecheck` (tsc covers test/):
 * a task's `ctx.deps` is typed from its `dependsOn`, step inputs from their
 * step type's schema. The runtime assertions only keep vitest honest.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { definePipeline, shell, step, task, type ShellOutput, type StepInput } from '../flows/index.js';

describe('DSL types', () => {
  it('types dependency outputs from dependsOn', () => {
    const fetch = step('fetch', shell, { argv: ['echo', 'hi'] });
    const count = task('count', { run: () => ({ words: 3 }) });
    const report = task('report', {
      dependsOn: [fetch, count],
      run: ({ deps }) => {
        expectTypeOf(deps.fetch).toEqualTypeOf<ShellOutput>();
        expectTypeOf(deps.count).toEqualTypeOf<{ words: number }>();
        // @ts-expect-error: only declared dependencies are on ctx.deps
        void deps.other;
        return `${deps.fetch.stdoutTail} ${deps.count.words}`;
      },
    });
    expectTypeOf(report.__output).toEqualTypeOf<string | undefined>();
    expect(definePipeline({ id: 'typed', steps: [fetch, count, report] }).steps.map((s) => s.id)).toEqual(['fetch', 'count', 'report']);
  });

  it('types step inputs from the step type schema', () => {
    expectTypeOf<StepInput<typeof shell>>().toHaveProperty('argv').toEqualTypeOf<string[]>();
    // @ts-expect-error: argv must be an array of strings
    const bad = step('bad', shell, { argv: 'rm -rf /' });
    expect(bad.id).toBe('bad');
  });
});
