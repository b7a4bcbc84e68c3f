/** `/runs/:id`: the DAG with each step's state, then every step's attempts, duration, error, output and log; live while the run goes. */
import type { RunDetail } from './deps.js';
import { action, duration, esc, page, seg, statusTag, time } from './html.js';
import { dagSvg } from './dag-svg.js';

export interface RunView {
  run: RunDetail;
  logs: ReadonlyMap<string, string[]>;
  role: string;
  csrf?: string;
  flash?: string;
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

function summary(value: unknown, max = 300): string {
  if (value === undefined) return '';
  const s = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/\s+/g, ' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The part of the page that the live script refreshes. */
export function runFragment(v: RunView): string {
  const r = v.run;
  const finished = FINISHED.has(r.status);
  const acts = v.csrf
    ? [
        r.status === 'failed' ? action(`/runs/${seg(r.runId)}/retry`, 'Retry from failed step', v.csrf) : '',
        !finished && r.status !== 'cancelling' ? action(`/runs/${seg(r.runId)}/cancel`, 'Cancel run', v.csrf) : '',
      ].join(' ')
    : '';
  const steps = r.steps
    .map((s) => {
      const log = v.logs.get(s.id) ?? [];
      return `<tr id="step-${esc(encodeURIComponent(s.id))}" data-step="${esc(s.id)}"><td><b>${esc(s.id)}</b><br><span class="muted">${esc(s.queue)}</span></td><td>${statusTag(s.status)}</td><td>${s.attempts}</td>
<td>${esc(duration(s.durationMs))}</td><td>${s.error ? `<div class="error">${esc(summary(s.error, 2000))}</div>` : `<code>${esc(summary(s.output))}</code>`}</td>
<td>${log.length ? `<details><summary>${log.length} lines</summary><pre class="log">${esc(log.join('\n'))}</pre></details>` : '<span class="muted">-</span>'}</td></tr>`;
    })
    .join('\n');
  const behind = r.waitingBehind !== undefined ? ` behind ${r.waitingBehind} earlier run(s)` : '';
  return `<div id="live" data-status="${esc(r.status)}" data-finished="${finished}">
<h1>Run ${esc(r.runId)} <span id="run-status">${statusTag(r.status)}</span>${esc(behind)}</h1>
<p class="muted">pipeline <a href="/pipelines/${seg(r.pipeline)}">${esc(r.pipeline)}</a> · trigger ${esc(r.trigger)} · logical time ${esc(r.logicalTime)} · attempt ${r.attempt} · created ${time(r.createdAt)}${r.finishedAt ? ` · took ${esc(duration(r.finishedAt - r.createdAt))}` : ''}</p>
<p>params <code>${esc(JSON.stringify(r.params))}</code></p><p>${acts}</p>
${dagSvg(r.steps)}
<table><thead><tr><th>Step</th><th>State</th><th>Attempts</th><th>Duration</th><th>Output / error</th><th>Log</th></tr></thead><tbody>${steps}</tbody></table></div>`;
}

/** Served as /assets/live.js (no inline script: the CSP allows scripts from the dashboard only). Polls the fragment while the run is not finished; keeps open <details> open. */
export const LIVE_SCRIPT = `(function(){
  var url = location.pathname.replace(/\\/$/, '') + '/live';
  function tick(){
    var live = document.getElementById('live');
    if (!live || live.dataset.finished === 'true') return;
    fetch(url, {credentials: 'same-origin'}).then(function(r){ return r.ok ? r.text() : null; }).then(function(html){
      if (html) {
        var open = Array.prototype.map.call(live.querySelectorAll('details[open]'), function(d){ return d.closest('tr').dataset.step; });
        live.outerHTML = html;
        open.forEach(function(id){ var d = document.querySelector('tr[data-step="' + CSS.escape(id) + '"] details'); if (d) d.open = true; });
      }
      setTimeout(tick, 1000);
    }, function(){ setTimeout(tick, 3000); });
  }
  setTimeout(tick, 1000);
})();`;

export function runPage(v: RunView): string {
  return page({ title: v.run.runId, role: v.role, body: `${v.flash ? `<div class="flash">${esc(v.flash)}</div>` : ''}${runFragment(v)}`, script: '/assets/live.js' });
}
