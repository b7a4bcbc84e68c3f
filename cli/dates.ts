/** Parsing dates given on the command line. */
import { UsageError } from './app.js';

/**
 * An ISO 8601 date or date-time. A bare date means the start of that day
 * (UTC), or with `endOfDay` its last millisecond, so `--to 2026-03-10`
 * includes the 10th.
 */
export function parseDate(flag: string, value: string, endOfDay = false): Date {
  const bare = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const d = new Date(bare ? `${value}T${endOfDay ? '23:59:59.999' : '00:00:00'}Z` : value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new UsageError(`${flag} ${value}: not a date (use ISO 8601, e.g. 2026-11-30 or 2026-11-30T06:00:00Z)`);
  }
  return d;
}
