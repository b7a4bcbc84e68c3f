/** Run parameters: checking declared types and resolving the values a run gets. */
import { RunRequestError } from './errors.js';
import type { ParamSpec, ParamType, ParamValue, ParamValues } from './types.js';

export const PARAM_TYPES: readonly ParamType[] = ['string', 'int', 'number', 'boolean'];

/** Why `value` is not of `type`, or undefined when it is. */
export function paramTypeError(type: ParamType, value: unknown): string | undefined {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? undefined : `expected a string, got ${describe(value)}`;
    case 'int':
      return Number.isInteger(value) ? undefined : `expected an integer, got ${describe(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `expected a number, got ${describe(value)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `expected true or false, got ${describe(value)}`;
    default: {
      const never: never = type;
      return `unknown param type ${String(never)}`;
    }
  }
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : `${typeof value} ${JSON.stringify(value)}`;
}

/** Parses a `--param k=v` string into the declared type. */
export function coerceParam(type: ParamType, raw: string): ParamValue | undefined {
  switch (type) {
    case 'string':
      return raw;
    case 'int':
      return /^-?\d+$/.test(raw) ? Number(raw) : undefined;
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : undefined;
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : undefined;
    default: {
      const never: never = type;
      return never;
    }
  }
}

/**
 * The params of a run: declared defaults overlaid with `given` (values or
 * strings from the command line). Every problem is reported at once.
 */
export function resolveParams(
  pipeline: string,
  specs: Readonly<Record<string, ParamSpec>>,
  given: Readonly<Record<string, unknown>> = {},
): ParamValues {
  const problems: string[] = [];
  const out: Record<string, ParamValue> = {};
  for (const name of Object.keys(given)) {
    if (!(name in specs)) {
      const known = Object.keys(specs);
      problems.push(`unknown param "${name}" (${known.length ? `known: ${known.join(', ')}` : 'it declares none'})`);
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    let value: unknown = name in given ? given[name] : spec.default;
    if (value === undefined) {
      problems.push(`param "${name}" is required (${spec.type})`);
      continue;
    }
    if (typeof value === 'string' && spec.type !== 'string') {
      const coerced = coerceParam(spec.type, value);
      if (coerced === undefined) {
        problems.push(`param "${name}": expected ${spec.type}, got ${JSON.stringify(value)}`);
        continue;
      }
      value = coerced;
    }
    const err = paramTypeError(spec.type, value);
    if (err) problems.push(`param "${name}": ${err}`);
    else out[name] = value as ParamValue;
  }
  if (problems.length) throw new RunRequestError(`pipeline ${pipeline}: ${problems.join('; ')}`);
  return out;
}
