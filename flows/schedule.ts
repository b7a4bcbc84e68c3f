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

/**
 * Ticks in `(after, until]`, oldest first, at most `limit`. Ticks are wall-clock
 * times in the schedule's zone. At DST changes: a time that does not exist that
 * day (spring forward, e.g. 02:30) fires at the same offset past the gap (03:30);
 * a time that exists twice (fall back) fires once, at its first occurrence.
 */
export function ticksBetween(schedule: Schedule, after: Date, until: Date, limit = 10_000): Date[] {
  // no endDate/hasNext(): cron-parser computes each step twice and throws at the end with them
  const it = CronExpressionParser.parse(schedule.cron, { tz: schedule.tz ?? 'UTC', currentDate: after });
  const out: Date[] = [];
  while (out.length < limit) {
    const t = it.next().toDate();
    if (t.getTime() > until.getTime()) break;
    out.push(t);
  }
  return out;
}

/**
 * The latest tick in `(after, until]`, counted forward from `after` (cron
 * iteration is only consistent across DST changes from a stable anchor: pass
 * the last tick handled). Past a million ticks it re-anchors a day before
 * `until`.
 */
export function latestTick(schedule: Schedule, after: Date, until: Date): Date | undefined {
  let anchor = after;
  let latest: Date | undefined;
  let seen = 0;
  for (;;) {
    const chunk = ticksBetween(schedule, anchor, until, 100_000);
    if (chunk.length === 0) return latest;
    latest = chunk.at(-1);
    seen += chunk.length;
    if (chunk.length < 100_000) return latest;
    const dayBefore = new Date(until.getTime() - 86_400_000);
    anchor = seen >= 1_000_000 && latest! < dayBefore ? dayBefore : latest!;
  }
}

/** The last tick strictly before `time` (the start of a run's data interval), looking back at most a year. */
export function previousTick(schedule: Schedule, time: Date): Date | undefined {
  for (const days of [1 / 24, 1, 8, 32, 367]) {
    const from = new Date(time.getTime() - days * 86_400_000);
    const found = ticksBetween(schedule, from, new Date(time.getTime() - 1), 100_000).at(-1);
    if (found) return found;
  }
  return undefined;
}

/** The next `count` ticks after `from`. */
export function nextTicks(schedule: Schedule, from: Date, count = 1): Date[] {
  const it = CronExpressionParser.parse(schedule.cron, { tz: schedule.tz ?? 'UTC', currentDate: from });
  return Array.from({ length: count }, () => it.next().toDate());
}
