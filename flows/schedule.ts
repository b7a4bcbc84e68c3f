/** Cron schedules read in an IANA time zone. */
import { CronExpressionParser } from 'cron-parser';
import type { Schedule } from './types.js';

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Why the cron expression is invalid, or undefined. */
export function cronError(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6) return `invalid cron "${cron}": expected 5 or 6 fields, got ${fields}`;
  try {
    CronExpressionParser.parse(cron, { tz: 'UTC' });
    return undefined;
  } catch (err) {
    return `invalid cron "${cron}": ${(err as Error).message}`;
  }
}

/** The next `count` ticks after `from`. */
export function nextTicks(schedule: Schedule, from: Date, count = 1): Date[] {
  const it = CronExpressionParser.parse(schedule.cron, { tz: schedule.tz ?? 'UTC', currentDate: from });
  return Array.from({ length: count }, () => it.next().toDate());
}
