/**
 * A first pipeline: a small diamond. `fetch` and `count` run a program and a
 * TypeScript function; `report` reads both outputs, typed.
 */
import { definePipeline, shell, step, task } from '../flows/index.js';

const fetch = step('fetch', shell, ({ params }) => ({ argv: ['echo', `hello from ${String(params.who)}`] }));

const count = task('count', {
  dependsOn: [fetch],
  run: ({ deps, log }) => {
    log(`fetch printed: ${deps.fetch.stdoutTail}`);
    return { words: deps.fetch.stdoutTail.split(/\s+/).length };
  },
});

const shout = task('shout', {
  dependsOn: [fetch],
  run: ({ deps }) => deps.fetch.stdoutTail.toUpperCase(),
});

const report = task('report', {
  dependsOn: [count, shout],
  run: ({ deps }) => ({ summary: `${deps.shout} (${deps.count.words} words)` }),
});

export default definePipeline({
  id: 'hello',
  description: 'a four-step diamond: shell, two tasks, a join',
  owner: 'ml-platform',
  params: { who: { type: 'string', default: 'bullpen' } },
  schedule: { cron: '0 6 * * 1', tz: 'Europe/Berlin' },
  steps: [fetch, count, shout, report],
});
