/**
 * Validation of pipeline definitions and run params: pure, no Redis. Every
 * problem is asserted with its exact message and where it is (pipeline, step,
 * path), so a check that goes missing or changes its wording fails here.
 */
import { describe, expect, it } from 'vitest';
import {
  PipelineDefinitionError,
  RunRequestError,
  assertValid,
  definePipeline,
  formatProblem,
  resolveParams,
  shell,
  step,
  stepOf,
  task,
  validatePipelines,
  type ParamSpec,
  type PipelineDefinition,
  type PipelineSpec,
  type Problem,
  type StepDefinition,
} from '../flows/index.js';

const ok = (id: string, spec: Parameters<typeof task>[1] = { run: () => id }): StepDefinition => task(id, spec);
const echo = (id: string, dependsOn: string[] = []): StepDefinition => step(id, shell, { argv: ['echo', id] }, { dependsOn });

function pipe(spec: Partial<PipelineSpec> & { steps: PipelineSpec['steps'] }): PipelineDefinition {
  return definePipeline({ id: 'p', ...spec });
}

/** Problems of one pipeline, validated alone. */
function problemsOf(spec: Partial<PipelineSpec> & { steps: PipelineSpec['steps'] }): Problem[] {
  return validatePipelines([pipe(spec)]);
}

describe('validatePipelines', () => {
  it('accepts a valid pipeline (shell, task, params, schedule, options)', () => {
    const p = pipe({
      params: { n: { type: 'int', default: 3 }, who: { type: 'string' } },
      schedule: { cron: '0 6 * * 1', tz: 'Europe/Berlin' },
      steps: [
        step('a', shell, ({ params }) => ({ argv: ['echo', String(params.n)] }), { retries: 2, priority: 1, timeoutMs: 1000 }),
        ok('b', { dependsOn: ['a'], run: () => 1, resources: { gpu: 1 } }),
      ],
    });
    expect(validatePipelines([p])).toEqual([]);
    expect(() => assertValid([p])).not.toThrow();
  });

  it('reports a dependency cycle with its path', () => {
    expect(problemsOf({ steps: [echo('a', ['c']), echo('b', ['a']), echo('c', ['b']), echo('d', ['c'])] })).toEqual([
      { pipeline: 'p', step: 'a', message: 'dependency cycle: a -> c -> b -> a' },
    ]);
  });

  it('reports a two-step cycle and a step depending on itself', () => {
    expect(problemsOf({ steps: [echo('x', ['y']), echo('y', ['x']), echo('z', ['z'])] })).toEqual([
      { pipeline: 'p', step: 'z', path: 'dependsOn', message: 'depends on itself' },
      { pipeline: 'p', step: 'x', message: 'dependency cycle: x -> y -> x' },
    ]);
  });

  it('reports unknown dependencies, by id and by name', () => {
    expect(problemsOf({ steps: [echo('a'), echo('b', ['a', 'nope']), ok('c', { dependsOn: ['ghost'], run: () => 1 })] })).toEqual([
      { pipeline: 'p', step: 'b', path: 'dependsOn', message: 'depends on unknown step "nope"' },
      { pipeline: 'p', step: 'c', path: 'dependsOn', message: 'depends on unknown step "ghost"' },
    ]);
  });

  it('reports an unknown step type by name (stepOf), listing the known ones', () => {
    expect(problemsOf({ steps: [stepOf('train', 'pytorch', { epochs: 1 })] })).toEqual([
      { pipeline: 'p', step: 'train', path: 'type', message: 'unknown step type "pytorch" (known: shell, task)' },
    ]);
    // a type known by name is checked against its schema like a typed one
    expect(problemsOf({ steps: [stepOf('s', 'shell', { argv: ['true'] })] })).toEqual([]);
    expect(problemsOf({ steps: [stepOf('s', 'shell', { argv: 'true' })] })).toEqual([
      { pipeline: 'p', step: 's', path: 'input.argv', message: 'Invalid input: expected array, received string' },
    ]);
  });

  it('reports duplicate step ids', () => {
    expect(problemsOf({ steps: [echo('a'), echo('b'), ok('a')] })).toEqual([
      { pipeline: 'p', step: 'a', message: 'duplicate step id' },
    ]);
  });

  it('reports invalid pipeline and step ids', () => {
    expect(validatePipelines([definePipeline({ id: '9lives', steps: [echo('has space')] })])).toEqual([
      {
        pipeline: '9lives',
        message: 'invalid pipeline id "9lives": must start with a letter and hold only letters, digits, "-" and "_" (at most 64)',
      },
      {
        pipeline: '9lives',
        step: 'has space',
        message: 'invalid step id "has space": must start with a letter and hold only letters, digits, "-" and "_" (at most 64)',
      },
    ]);
  });

  it('reports duplicate pipeline ids, naming where the first one came from', () => {
    const first = { ...pipe({ steps: [echo('a')] }), source: 'pipelines/one.ts' };
    const second = { ...pipe({ steps: [echo('b')] }), source: 'pipelines/two.ts' };
    expect(validatePipelines([first, second])).toEqual([
      { pipeline: 'p', source: 'pipelines/two.ts', message: 'duplicate pipeline id (also defined in pipelines/one.ts)' },
    ]);
    expect(validatePipelines([pipe({ steps: [echo('a')] }), pipe({ steps: [echo('a')] })])).toEqual([
      { pipeline: 'p', message: 'duplicate pipeline id (also defined in another definition)' },
    ]);
    expect(validatePipelines([pipe({ steps: [echo('a')] }), definePipeline({ id: 'q', steps: [echo('a')] })])).toEqual([]);
  });

  it('reports shell input failing the schema: empty argv, missing argv, extra key, wrong type', () => {
    const bad = (input: unknown): Problem[] => problemsOf({ steps: [stepOf('s', 'shell', input)] });
    expect(bad({ argv: [] })).toEqual([
      { pipeline: 'p', step: 's', path: 'input.argv', message: 'needs at least the program to run' },
    ]);
    expect(bad({})).toEqual([
      { pipeline: 'p', step: 's', path: 'input.argv', message: 'Invalid input: expected array, received undefined' },
    ]);
    expect(bad({ argv: ['ls'], shell: true })).toEqual([
      { pipeline: 'p', step: 's', path: 'input', message: 'Unrecognized key: "shell"' },
    ]);
    expect(bad({ argv: ['ls', 3], env: { A: 1 } })).toEqual([
      { pipeline: 'p', step: 's', path: 'input.argv.1', message: 'Invalid input: expected string, received number' },
      { pipeline: 'p', step: 's', path: 'input.env.A', message: 'Invalid input: expected string, received number' },
    ]);
  });

  it('checks input functions with the param defaults, and reports one that throws', () => {
    const p = {
      params: { n: { type: 'int', default: 0 } as ParamSpec },
      steps: [step('s', shell, ({ params }) => ({ argv: params.n === 0 ? [] : ['echo'] }))],
    };
    expect(problemsOf(p)).toEqual([{ pipeline: 'p', step: 's', path: 'input.argv', message: 'needs at least the program to run' }]);
    const throws = step('t', shell, () => {
      throw new Error('no input today');
    });
    expect(problemsOf({ steps: [throws] })).toEqual([
      { pipeline: 'p', step: 't', path: 'input', message: 'input function threw: no input today' },
    ]);
  });

  it('reports an invalid cron and an unknown time zone', () => {
    expect(problemsOf({ schedule: { cron: '0 6 * *' }, steps: [echo('a')] })).toEqual([
      { pipeline: 'p', path: 'schedule.cron', message: 'invalid cron "0 6 * *": expected 5 or 6 fields, got 4' },
    ]);
    expect(problemsOf({ schedule: { cron: '61 * * * *' }, steps: [echo('a')] })).toEqual([
      { pipeline: 'p', path: 'schedule.cron', message: 'invalid cron "61 * * * *": Constraint error, got value 61 expected range 0-59' },
    ]);
    expect(problemsOf({ schedule: { cron: '0 6 * * 1', tz: 'Mars/Olympus_Mons' }, steps: [echo('a')] })).toEqual([
      {
        pipeline: 'p',
        path: 'schedule.tz',
        message: 'unknown time zone "Mars/Olympus_Mons" (use an IANA name such as Europe/Berlin)',
      },
    ]);
    expect(problemsOf({ schedule: { cron: '*/5 * * * * *', tz: 'UTC' }, steps: [echo('a')] })).toEqual([]);
  });

  it('reports param defaults of the wrong type and unknown param types', () => {
    const params = {
      n: { type: 'int', default: 1.5 },
      x: { type: 'number', default: '2' },
      b: { type: 'boolean', default: 'true' },
      s: { type: 'string', default: 7 },
      f: { type: 'float' },
      good: { type: 'int', default: -4 },
    } as unknown as Record<string, ParamSpec>;
    expect(problemsOf({ params, steps: [echo('a')] })).toEqual([
      { pipeline: 'p', path: 'params.n.default', message: 'default expected an integer, got number 1.5' },
      { pipeline: 'p', path: 'params.x.default', message: 'default expected a number, got "2"' },
      { pipeline: 'p', path: 'params.b.default', message: 'default expected true or false, got "true"' },
      { pipeline: 'p', path: 'params.s.default', message: 'default expected a string, got number 7' },
      { pipeline: 'p', path: 'params.f', message: 'unknown param type "float" (use string, int, number, boolean)' },
    ]);
  });

  it('reports bad step options: retries, priority, timeoutMs, gpu, backoff', () => {
    const s = echo('a');
    const withOptions = (options: object): StepDefinition => ({ ...s, options });
    expect(problemsOf({ steps: [withOptions({ retries: -1 })] })).toEqual([
      { pipeline: 'p', step: 'a', path: 'retries', message: 'retries must be a whole number ≥ 0, got -1' },
    ]);
    expect(problemsOf({ steps: [withOptions({ retries: 1.5 })] })).toEqual([
      { pipeline: 'p', step: 'a', path: 'retries', message: 'retries must be a whole number ≥ 0, got 1.5' },
    ]);
    expect(problemsOf({ steps: [withOptions({ priority: 0 })] })).toEqual([
      { pipeline: 'p', step: 'a', path: 'priority', message: 'priority must be a whole number from 1 (highest) to 2097152, got 0' },
    ]);
    expect(problemsOf({ steps: [withOptions({ priority: 2_097_153 })] })).toEqual([
      {
        pipeline: 'p',
        step: 'a',
        path: 'priority',
        message: 'priority must be a whole number from 1 (highest) to 2097152, got 2097153',
      },
    ]);
    expect(problemsOf({ steps: [withOptions({ timeoutMs: 0 })] })).toEqual([
      { pipeline: 'p', step: 'a', path: 'timeoutMs', message: 'timeoutMs must be > 0, got 0' },
    ]);
    expect(problemsOf({ steps: [withOptions({ resources: { gpu: -1 } })] })).toEqual([
      { pipeline: 'p', step: 'a', path: 'resources.gpu', message: 'resources.gpu must be a whole number ≥ 0, got -1' },
    ]);
    expect(problemsOf({ steps: [withOptions({ backoff: { type: 'linear', delayMs: -1 } })] })).toEqual([
      { pipeline: 'p', step: 'a', path: 'backoff.type', message: 'backoff.type must be fixed or exponential' },
      { pipeline: 'p', step: 'a', path: 'backoff.delayMs', message: 'backoff.delayMs must be ≥ 0' },
    ]);
    expect(
      problemsOf({ steps: [withOptions({ retries: 0, priority: 1, timeoutMs: 1, resources: { gpu: 0 }, backoff: { type: 'fixed', delayMs: 0 } })] }),
    ).toEqual([]);
  });

  it('options given through step()/task() are checked too', () => {
    expect(problemsOf({ steps: [step('a', shell, { argv: ['true'] }, { retries: -1, priority: 0, timeoutMs: 0 })] })).toEqual([
      { pipeline: 'p', step: 'a', path: 'retries', message: 'retries must be a whole number ≥ 0, got -1' },
      { pipeline: 'p', step: 'a', path: 'timeoutMs', message: 'timeoutMs must be > 0, got 0' },
      { pipeline: 'p', step: 'a', path: 'priority', message: 'priority must be a whole number from 1 (highest) to 2097152, got 0' },
    ]);
  });

  it('reports a task without a run function', () => {
    const bare = stepOf('t', 'task', {});
    expect(problemsOf({ steps: [bare] })).toEqual([
      { pipeline: 'p', step: 't', path: 'run', message: 'a task step needs a run function' },
    ]);
    const notAFunction = { ...ok('u'), run: 'console.log(1)' } as unknown as StepDefinition;
    expect(problemsOf({ steps: [notAFunction] })).toEqual([
      { pipeline: 'p', step: 'u', path: 'run', message: 'a task step needs a run function' },
    ]);
  });

  it('reports a pipeline without steps', () => {
    expect(problemsOf({ steps: [] })).toEqual([{ pipeline: 'p', message: 'has no steps' }]);
  });

  it('reports every problem of every pipeline at once', () => {
    const broken = definePipeline({
      id: 'broken',
      params: { n: { type: 'int', default: 'x' as unknown as number }, f: { type: 'float' as 'int' } },
      schedule: { cron: 'every day', tz: 'Nowhere/Town' },
      steps: [
        step('a', shell, { argv: [] }, { dependsOn: ['c'], retries: -1 }),
        step('b', shell, { argv: ['ls'], extra: 1 } as unknown as { argv: string[] }, { dependsOn: ['a', 'zz'], priority: 0 }),
        echo('c', ['b']),
        stepOf('d', 'nope', {}),
        stepOf('t', 'task', {}, { timeoutMs: 0 }),
        echo('t'),
      ],
    });
    const other = { ...definePipeline({ id: 'other', steps: [echo('x', ['x'])] }), source: 'o.ts' };
    const problems = validatePipelines([broken, other, { ...other, source: 'o2.ts' }]);
    expect(problems).toEqual([
      { pipeline: 'broken', path: 'params.n.default', message: 'default expected an integer, got "x"' },
      { pipeline: 'broken', path: 'params.f', message: 'unknown param type "float" (use string, int, number, boolean)' },
      { pipeline: 'broken', path: 'schedule.cron', message: 'invalid cron "every day": expected 5 or 6 fields, got 2' },
      { pipeline: 'broken', path: 'schedule.tz', message: 'unknown time zone "Nowhere/Town" (use an IANA name such as Europe/Berlin)' },
      { pipeline: 'broken', step: 't', message: 'duplicate step id' },
      { pipeline: 'broken', step: 'a', path: 'retries', message: 'retries must be a whole number ≥ 0, got -1' },
      { pipeline: 'broken', step: 'a', path: 'input.argv', message: 'needs at least the program to run' },
      { pipeline: 'broken', step: 'b', path: 'dependsOn', message: 'depends on unknown step "zz"' },
      { pipeline: 'broken', step: 'b', path: 'priority', message: 'priority must be a whole number from 1 (highest) to 2097152, got 0' },
      { pipeline: 'broken', step: 'b', path: 'input', message: 'Unrecognized key: "extra"' },
      { pipeline: 'broken', step: 'd', path: 'type', message: 'unknown step type "nope" (known: shell, task)' },
      { pipeline: 'broken', step: 't', path: 'timeoutMs', message: 'timeoutMs must be > 0, got 0' },
      { pipeline: 'broken', step: 't', path: 'run', message: 'a task step needs a run function' },
      { pipeline: 'broken', step: 'a', message: 'dependency cycle: a -> c -> b -> a' },
      { pipeline: 'other', step: 'x', path: 'dependsOn', message: 'depends on itself', source: 'o.ts' },
      { pipeline: 'other', source: 'o2.ts', message: 'duplicate pipeline id (also defined in o.ts)' },
      { pipeline: 'other', step: 'x', path: 'dependsOn', message: 'depends on itself', source: 'o2.ts' },
    ]);
    let thrown: unknown;
    try {
      assertValid([broken]);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PipelineDefinitionError);
    expect((thrown as PipelineDefinitionError).problems).toEqual(problems.filter((p) => p.pipeline === 'broken'));
    expect((thrown as PipelineDefinitionError).message.split('\n')[0]).toBe('14 problems in pipeline definitions:');
  });
});

describe('formatProblem and PipelineDefinitionError', () => {
  it('formats pipeline, step and path before the message', () => {
    expect(formatProblem({ pipeline: 'p', step: 's', path: 'input.argv', message: 'bad' })).toBe('pipeline p, step s, input.argv: bad');
    expect(formatProblem({ pipeline: 'p', step: 's', message: 'duplicate step id' })).toBe('pipeline p, step s: duplicate step id');
    expect(formatProblem({ pipeline: 'p', path: 'schedule.tz', message: 'tz' })).toBe('pipeline p, schedule.tz: tz');
    expect(formatProblem({ pipeline: 'p', message: 'has no steps', source: 'p.ts' })).toBe('pipeline p: has no steps');
  });

  it('lists every problem, counted, one per line', () => {
    const one = new PipelineDefinitionError([{ pipeline: 'p', message: 'has no steps' }]);
    expect(one.name).toBe('PipelineDefinitionError');
    expect(one).toBeInstanceOf(Error);
    expect(one.message).toBe('1 problem in pipeline definitions:\n  - pipeline p: has no steps');
    const problems: Problem[] = [
      { pipeline: 'p', step: 'a', path: 'input.argv', message: 'needs at least the program to run' },
      { pipeline: 'q', step: 'b', message: 'dependency cycle: b -> c -> b' },
    ];
    const two = new PipelineDefinitionError(problems);
    expect(two.problems).toEqual(problems);
    expect(two.message).toBe(
      '2 problems in pipeline definitions:\n' +
        '  - pipeline p, step a, input.argv: needs at least the program to run\n' +
        '  - pipeline q, step b: dependency cycle: b -> c -> b',
    );
  });
});

describe('resolveParams', () => {
  const specs: Record<string, ParamSpec> = {
    n: { type: 'int' },
    x: { type: 'number', default: 0.5 },
    flag: { type: 'boolean', default: false },
    who: { type: 'string', default: 'world' },
  };

  function runRequestError(fn: () => unknown): RunRequestError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(RunRequestError);
      return err as RunRequestError;
    }
    throw new Error('expected a RunRequestError');
  }

  it('fills defaults and coerces strings into int, number and boolean', () => {
    expect(resolveParams('p', specs, { n: '42' })).toEqual({ n: 42, x: 0.5, flag: false, who: 'world' });
    expect(resolveParams('p', specs, { n: '-7', x: '1.25e2', flag: 'true', who: '123' })).toEqual({ n: -7, x: 125, flag: true, who: '123' });
    expect(resolveParams('p', specs, { n: 3, x: 2, flag: true })).toEqual({ n: 3, x: 2, flag: true, who: 'world' });
    expect(resolveParams('p', { b: { type: 'boolean' } }, { b: 'false' })).toEqual({ b: false });
    expect(resolveParams('p', {}, {})).toEqual({});
  });

  it('rejects an unknown param, naming the known ones', () => {
    expect(runRequestError(() => resolveParams('p', specs, { n: '1', epochs: '3' })).message).toBe(
      'pipeline p: unknown param "epochs" (known: n, x, flag, who)',
    );
    expect(runRequestError(() => resolveParams('p', {}, { epochs: '3' })).message).toBe(
      'pipeline p: unknown param "epochs" (it declares none)',
    );
  });

  it('rejects strings that are not of the declared type', () => {
    expect(runRequestError(() => resolveParams('p', specs, { n: 'abc' })).message).toBe('pipeline p: param "n": expected int, got "abc"');
    expect(runRequestError(() => resolveParams('p', specs, { n: '1.5' })).message).toBe('pipeline p: param "n": expected int, got "1.5"');
    expect(runRequestError(() => resolveParams('p', specs, { n: '' })).message).toBe('pipeline p: param "n": expected int, got ""');
    expect(runRequestError(() => resolveParams('p', specs, { n: '1', x: 'lots' })).message).toBe(
      'pipeline p: param "x": expected number, got "lots"',
    );
    expect(runRequestError(() => resolveParams('p', specs, { n: '1', flag: 'yes' })).message).toBe(
      'pipeline p: param "flag": expected boolean, got "yes"',
    );
  });

  it('rejects values of the wrong type given directly', () => {
    expect(runRequestError(() => resolveParams('p', specs, { n: 1.5 })).message).toBe(
      'pipeline p: param "n": expected an integer, got number 1.5',
    );
    expect(runRequestError(() => resolveParams('p', specs, { n: 1, who: 5 })).message).toBe(
      'pipeline p: param "who": expected a string, got number 5',
    );
  });

  it('rejects a missing required param', () => {
    expect(runRequestError(() => resolveParams('p', specs)).message).toBe('pipeline p: param "n" is required (int)');
  });

  it('reports every problem at once', () => {
    expect(runRequestError(() => resolveParams('train', specs, { zz: '1', x: 'x', flag: 'maybe' })).message).toBe(
      'pipeline train: unknown param "zz" (known: n, x, flag, who); param "n" is required (int); ' +
        'param "x": expected number, got "x"; param "flag": expected boolean, got "maybe"',
    );
  });
});
