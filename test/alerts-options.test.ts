/** A pipeline's `alerts` options: kept by definePipeline, every problem reported by validation with its path. */
import { describe, expect, it } from 'vitest';
import { definePipeline, task, validatePipelines, type AlertOptions } from '../flows/index.js';

const problemsOf = (alerts: AlertOptions) =>
  validatePipelines([definePipeline({ id: 'p', alerts, steps: [task('a', { run: () => 1 })] })]).map(({ path, message }) => ({ path, message }));

describe('alert options', () => {
  it('keeps valid options on the definition', () => {
    const alerts: AlertOptions = { slackChannel: '#ml', severity: 'critical', deadline: '09:00', tz: 'Europe/Berlin', expectedIntervalMs: 3_600_000 };
    expect(definePipeline({ id: 'p', alerts, steps: [task('a', { run: () => 1 })] }).alerts).toEqual(alerts);
    expect(problemsOf(alerts)).toEqual([]);
  });

  it('reports every invalid option at once', () => {
    expect(
      problemsOf({ slackChannel: ' ', severity: 'fatal' as never, deadline: '9:00', tz: 'Mars/Olympus', expectedIntervalMs: 0 }),
    ).toEqual([
      { path: 'alerts.slackChannel', message: 'slackChannel must be a non-empty string' },
      { path: 'alerts.severity', message: 'severity must be one of critical, error, warning, info, got "fatal"' },
      { path: 'alerts.deadline', message: 'deadline must be a time HH:MM (00:00 to 23:59), got "9:00"' },
      { path: 'alerts.tz', message: 'unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Berlin)' },
      { path: 'alerts.expectedIntervalMs', message: 'expectedIntervalMs must be > 0, got 0' },
    ]);
    expect(problemsOf({ deadline: '24:00' })).toEqual([{ path: 'alerts.deadline', message: 'deadline must be a time HH:MM (00:00 to 23:59), got "24:00"' }]);
  });
});
