/** A run's DAG as an SVG: steps in columns by depth (longest path from a source), edges from dependency to dependent. */
import type { StepDetail } from './deps.js';
import { COLOURS, duration, esc } from './html.js';

const W = 170;
const H = 44;
const GAP_X = 60;
const GAP_Y = 18;

export function dagSvg(steps: readonly StepDetail[]): string {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const depth = new Map<string, number>();
  const depthOf = (id: string, seen: Set<string> = new Set()): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // definitions are acyclic (validated); guard anyway
    seen.add(id);
    const deps = byId.get(id)?.dependsOn.filter((d) => byId.has(d)) ?? [];
    const d = deps.length ? 1 + Math.max(...deps.map((x) => depthOf(x, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  const columns: StepDetail[][] = [];
  for (const s of steps) (columns[depthOf(s.id)] ??= []).push(s);
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) => col.forEach((s, r) => pos.set(s.id, { x: 10 + c * (W + GAP_X), y: 10 + r * (H + GAP_Y) })));
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
  const edges = steps.flatMap((s) =>
    s.dependsOn.flatMap((d) => {
      const a = pos.get(d);
      const b = pos.get(s.id);
      if (!a || !b) return [];
      const [x1, y1, x2, y2] = [a.x + W, a.y + H / 2, b.x, b.y + H / 2];
      const mx = (x1 + x2) / 2;
      return [`<path d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}" fill="none" stroke="#8a96a3" stroke-width="1.5" marker-end="url(#arrow)"/>`];
    }),
  );
  const nodes = steps.map((s) => {
    const p = pos.get(s.id)!;
    const light = s.status === 'pending' || s.status === 'skipped' || s.status === 'missing' || s.status === 'queued';
    const fg = light ? '#1d232a' : '#fff';
    const detail = [s.status, s.attempts > 1 ? `${s.attempts} attempts` : '', duration(s.durationMs)].filter(Boolean).join(' · ');
    return `<a href="#step-${esc(encodeURIComponent(s.id))}"><g class="node" data-step="${esc(s.id)}" data-status="${esc(s.status)}">
<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6" fill="${COLOURS[s.status]}" stroke="#0003"/>
<text x="${p.x + 8}" y="${p.y + 18}" fill="${fg}" font-weight="600" font-size="13">${esc(s.id.length > 22 ? `${s.id.slice(0, 21)}…` : s.id)}</text>
<text x="${p.x + 8}" y="${p.y + 35}" fill="${fg}" font-size="11">${esc(detail)}</text></g></a>`;
  });
  return `<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8a96a3"/></marker></defs>
${edges.join('\n')}${nodes.join('\n')}</svg>`;
}
