/** HTML building blocks: escaping, the page frame, state colours, durations. */
import type { RunStatus, StepStatus } from './deps.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attributes. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
}

/** A path segment, escaped for a URL and then for HTML. */
export function seg(value: string): string {
  return esc(encodeURIComponent(value));
}

export const COLOURS: Record<RunStatus | StepStatus, string> = {
  succeeded: '#2e9d4f',
  failed: '#d23c3c',
  running: '#2f7fd8',
  retrying: '#e59a1b',
  queued: '#9aa5b1',
  pending: '#d5dbe1',
  waiting: '#b9a6e0',
  skipped: '#f2c9c9',
  cancelled: '#6b6b6b',
  cancelling: '#a0a0a0',
  missing: '#ffffff',
};

export function dot(status: RunStatus | StepStatus, title: string, href?: string): string {
  const span = `<span class="dot" data-status="${esc(status)}" style="background:${COLOURS[status]}" title="${esc(title)}"></span>`;
  return href ? `<a href="${esc(href)}">${span}</a>` : span;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export function time(ms: number | string | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? esc(ms) : `<time datetime="${d.toISOString()}">${d.toISOString().replace('T', ' ').slice(0, 19)}Z</time>`;
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f7f8fa}
header{background:#1d2b3a;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none}header .role{margin-left:auto;opacity:.7}
main{padding:16px 20px}h1{font-size:20px;margin:4px 0 12px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e1e5ea;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}.dot{display:inline-block;width:12px;height:12px;border-radius:50%;margin:0 1px;border:1px solid #0002}
.grid td.cell{padding:0}.grid .cell a,.grid .cell span.sq{display:block;width:22px;height:18px}
.tag{display:inline-block;padding:0 6px;border-radius:8px;color:#fff;font-size:12px}
form.inline{display:inline}button{cursor:pointer}.muted{color:#6a737d}.error{color:#b31d28;white-space:pre-wrap}
pre.log{background:#111;color:#ddd;padding:8px;max-height:240px;overflow:auto;font-size:12px}
.flash{background:#fff3cd;border:1px solid #e0c36b;padding:8px;margin-bottom:12px}
`;

export interface Frame {
  title: string;
  role: string;
  body: string;
  /** Path of a script served by the dashboard. */
  script?: string;
}

export function page(f: Frame): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(f.title)} · Bullpen</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${CSS}</style></head><body>
<header><a href="/"><b>Bullpen</b></a><a href="/">Pipelines</a><a href="/queues">Queues</a><span class="role">${esc(f.role)}</span></header>
<main>${f.body}</main>${f.script ? `<script src="${esc(f.script)}"></script>` : ''}</body></html>`;
}

const LIGHT = new Set<string>(['pending', 'skipped', 'missing', 'queued', 'waiting', 'cancelling']);

export function statusTag(status: RunStatus | StepStatus): string {
  const fg = LIGHT.has(status) ? '#1d232a' : '#fff';
  return `<span class="tag" data-status="${esc(status)}" style="background:${COLOURS[status]};color:${fg}">${esc(status)}</span>`;
}

/** A POST form with the CSRF token. */
export function action(href: string, label: string, csrf: string, fields = ''): string {
  return `<form class="inline" method="post" action="${esc(href)}"><input type="hidden" name="_csrf" value="${esc(csrf)}">${fields}<button type="submit">${esc(label)}</button></form>`;
}
