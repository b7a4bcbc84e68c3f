/** `/`: every pipeline with description, owner, schedule in words, next run, recent runs, paused. */
import cronstrue from 'cronstrue';
import { nextTicks, type PipelineDefinition } from '../flows/index.js';
import type { RunRow } from './deps.js';
import { action, dot, esc, page, seg, time } from './html.js';

const described = new WeakMap<PipelineDefinition, string>();
const upcoming = new WeakMap<PipelineDefinition, Date>();

/** The schedule in words (cronstrue), computed once per pipeline. */
export function describeSchedule(p: PipelineDefinition): string {
  let words = described.get(p);
  if (words === undefined) described.set(p, (words = inWords(p)));
  return words;
}

/** The next tick at or after `now`, recomputed only once the cached one has passed (cron parsing is the page's main cost). */
export function nextRun(p: PipelineDefinition, now: Date): Date | undefined {
  if (!p.schedule) return undefined;
  const cached = upcoming.get(p);
  if (cached && cached > now) return cached;
  const next = nextTicks(p.schedule, now)[0];
  if (next) upcoming.set(p, next);
  return next;
}

function inWords(p: PipelineDefinition): string {
  if (!p.schedule) return 'manual only';
  let words = p.schedule.cron;
  try {
    words = cronstrue.toString(p.schedule.cron, { use24HourTimeFormat: true, verbose: false });
  } catch {
    // an unusual pattern: show it as written
  }
  return `${words} (${p.schedule.tz ?? 'UTC'})`;
}

export interface PipelinesView {
  pipelines: readonly PipelineDefinition[];
  recent: ReadonlyMap<string, RunRow[]>;
  paused: ReadonlySet<string>;
  role: string;
  csrf?: string;
  now: Date;
}

export function pipelinesPage(v: PipelinesView): string {
  const rows = v.pipelines.map((p) => {
    const paused = v.paused.has(p.id);
    const next = paused ? undefined : nextRun(p, v.now);
    const runs = [...(v.recent.get(p.id) ?? [])].reverse();
    const dots = runs.map((r) => dot(r.status, `${r.runId}: ${r.status}`, `/runs/${encodeURIComponent(r.runId)}`)).join('');
    const toggle = v.csrf ? action(`/pipelines/${seg(p.id)}/${paused ? 'resume' : 'pause'}`, paused ? 'resume' : 'pause', v.csrf) : '';
    return `<tr data-pipeline="${esc(p.id)}"><td><a href="/pipelines/${seg(p.id)}">${esc(p.id)}</a></td><td>${esc(p.description ?? '')}</td><td>${esc(p.owner ?? '')}</td>
<td>${esc(describeSchedule(p))}</td><td>${next ? time(next.getTime()) : '<span class="muted">-</span>'}</td><td class="runs">${dots || '<span class="muted">no runs</span>'}</td>
<td class="paused">${paused ? '<b>paused</b>' : 'no'}</td><td>${toggle}</td></tr>`;
  });
  const body = `<h1>Pipelines</h1><table><thead><tr><th>Pipeline</th><th>Description</th><th>Owner</th><th>Schedule</th><th>Next run</th><th>Last runs</th><th>Paused</th><th></th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
  return page({ title: 'Pipelines', role: v.role, body });
}
