/** Configuration from the environment: defaults, every problem at once naming the variable, secrets masked. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig } from '../common/config.js';
import { loadMonitorSettings } from '../common/monitor-config.js';

describe('configuration', () => {
  it('defaults, the first variable set wins, overrides win over both', () => {
    expect(loadConfig({}, {})).toEqual(DEFAULTS);
    const c = loadConfig({ keepRuns: 7 }, { REDIS_URL: 'redis://b:6379', BULLPEN_REDIS_URL: 'redis://a:6379', BULLPEN_KEEP_RUNS: '3', BULLPEN_STEP_CONCURRENCY: 'warehouse.load=2, train=1' });
    expect(c).toMatchObject({ redisUrl: 'redis://a:6379', keepRuns: 7, stepConcurrency: { 'warehouse.load': 2, train: 1 } });
  });

  it('reports every bad variable at once, by name', () => {
    expect(() => loadConfig({}, { BULLPEN_REDIS_URL: 'localhost:6379', BULLPEN_PREFIX: 'a:b', BULLPEN_KEEP_RUNS: '0', BULLPEN_STEP_CONCURRENCY: 'train=x' })).toThrow(
      [
        'invalid configuration:',
        '  BULLPEN_REDIS_URL="localhost:6379": must start with redis:// or rediss://',
        '  BULLPEN_PREFIX="a:b": must not contain ":"',
        '  BULLPEN_KEEP_RUNS="0": Too small: expected number to be >=1',
        '  BULLPEN_STEP_CONCURRENCY="train=x": Invalid input: expected number, received NaN',
      ].join('\n'),
    );
  });

  it('never shows a secret, even when it is invalid', () => {
    let message = '';
    try {
      loadMonitorSettings({}, { BULLPEN_SLACK_TOKEN: 'xoxb-secret', BULLPEN_SLACK_API_URL: 'not a url', BULLPEN_METRICS_PORT: '70000' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid monitoring configuration:\n {2}BULLPEN_METRICS_PORT="70000": .+\n {2}BULLPEN_SLACK_API_URL="not a url": .+$/);
    expect(message).not.toContain('xoxb-secret');
    expect(loadMonitorSettings({}, { SLACK_BOT_TOKEN: 'xoxb-2' }).slackToken).toBe('xoxb-2');
  });
});
