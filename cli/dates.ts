/** Parsing dates given on the command line. */
import { UsageError } from './app.js';

/** An ISO 8601 date or date-time; a bare date means midnight UTC. */
export function parseDate(flag: string, value: string): Date {
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new UsageError(`${flag} ${value}: not a date (use ISO 8601, e.g. 2026-11-30 or 2026-11-30T06:00:00Z)`);
  }
  return d;
}
