/** `/pipelines/:id`: run history as a grid (steps × runs, coloured by state), paged, and the trigger form. */
import type { PipelineDefinition } from '../flows/index.js';
import type { RunRow } from './deps.js';
import { COLOURS, action, dot, duration, esc, page, seg, time } from './html.js';
import { describeSchedule } from './pipelines-page.js';

export interface PipelineView {
  pipeline: PipelineDefinition;
  runs: RunRow[];
  total: number;
  page: number;
  pageSize: number;
  paused: boolean;
  role: string;
  csrf?: string;
  flash?: string;
}

function triggerForm(p: PipelineDefinition, csrf: string): string {
  const fields = Object.entries(p.params ?? {})
    .map(([name, spec]) => {
      const def = (spec as { default?: unknown }).default;
      return `<label>${esc(name)} <input name="param.${esc(name)}" value="${esc(def === undefined ? '' : String(def))}" placeholder="${esc((spec as { type?: string }).type ?? '')}"></label> `;
    })
    .join('');
  const extra =
    '<label>key <input name="key" placeholder="optional: one run per key"></label> ' +
    '<label>logical date <input name="logicalDate" placeholder="optional: 2026-11-30T06:00:00Z"></label> ';
  return action(`/pipelines/${seg(p.id)}/trigger`, 'Trigger run', csrf, fields + extra);
}

export function pipelinePage(v: PipelineView): string {
  const p = v.pipeline;
  const runs = [...v.runs].reverse(); // oldest on the left, as in Airflow's grid
  const runHead = runs.map((r) => `<th class="cell">${dot(r.status, `${r.runId}: ${r.status}`, `/runs/${encodeURIComponent(r.runId)}`)}</th>`).join('');
  const durations = runs.map((r) => `<td class="muted" style="font-size:11px">${esc(r.finishedAt ? duration(r.finishedAt - r.createdAt) : '')}</td>`).join('');
  const stepRows = p.steps.map((s) => {
    const cells = runs.map((r) => {
      const c = r.steps.find((x) => x.id === s.id);
      if (!c) return '<td class="cell"></td>';
      const title = `${s.id} in ${r.runId}: ${c.status}${c.attempts > 1 ? `, ${c.attempts} attempts` : ''}${c.durationMs !== undefined ? `, ${duration(c.durationMs)}` : ''}`;
      return `<td class="cell"><a href="/runs/${seg(r.runId)}#step-${seg(s.id)}" title="${esc(title)}"><span class="sq" data-status="${esc(c.status)}" style="background:${COLOURS[c.status]}"></span></a></td>`;
    });
    return `<tr><th>${esc(s.id)}</th>${cells.join('')}</tr>`;
  });
  const pages = Math.max(1, Math.ceil(v.total / v.pageSize));
  const nav = [
    v.page > 1 ? `<a href="?page=${v.page - 1}">newer</a>` : '',
    `page ${v.page} of ${pages} (${v.total} runs)`,
    v.page < pages ? `<a href="?page=${v.page + 1}">older</a>` : '',
  ].join(' ');
  const list = v.runs
    .map((r) => `<tr><td><a href="/runs/${seg(r.runId)}">${esc(r.runId)}</a></td><td>${dot(r.status, r.status)} ${esc(r.status)}</td><td>${esc(r.trigger)}</td><td>${esc(r.logicalTime)}</td><td>${time(r.createdAt)}</td><td>${esc(r.finishedAt ? duration(r.finishedAt - r.createdAt) : '')}</td></tr>`)
    .join('');
  const ops = v.csrf
    ? `<p>${triggerForm(p, v.csrf)} ${action(`/pipelines/${seg(p.id)}/${v.paused ? 'resume' : 'pause'}`, v.paused ? 'resume' : 'pause', v.csrf)}</p>`
    : '';
  const body = `${v.flash ? `<div class="flash">${esc(v.flash)}</div>` : ''}<h1>${esc(p.id)}${v.paused ? ' <span class="tag" style="background:#6b6b6b">paused</span>' : ''}</h1>
<p>${esc(p.description ?? '')} <span class="muted">owner ${esc(p.owner ?? '-')} · ${esc(describeSchedule(p))}</span></p>${ops}
<p>${nav}</p><table class="grid"><thead><tr><th>step \\ run</th>${runHead}</tr></thead><tbody>${stepRows.join('')}<tr><th class="muted">duration</th>${durations}</tr></tbody></table>
<h2>Runs</h2><table><thead><tr><th>Run</th><th>Status</th><th>Trigger</th><th>Logical time</th><th>Created</th><th>Duration</th></tr></thead><tbody>${list}</tbody></table>`;
  return page({ title: p.id, role: v.role, body });
}
