/** Markdown tables from phase results, and the generated block of bench/RESULTS.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { PhaseResult } from './measure.js';
import { mean, median, percentile } from './probes.js';
import type { Shape } from './shapes.js';
import type { BenchSystem, EdgeKind } from './system.js';

export const TARGETS = { throughputRatio: 0.7, unloadedP50Ms: 2, unloadedP99Ms: 10 } as const;

export interface Cell {
  sys: BenchSystem;
  shape: Shape;
  unloaded: PhaseResult;
  loaded: PhaseResult[];
}

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');
const pct = (n: number): string => (Number.isFinite(n) ? `${Math.round(n * 100)}%` : '—');

export function runsPerSec(r: PhaseResult): number {
  return (r.runs * 1000) / r.wallMs;
}

function throughput(c: Cell): { runs: number; min: number; max: number } {
  const all = c.loaded.map(runsPerSec);
  return { runs: median(all), min: Math.min(...all), max: Math.max(...all) };
}

function releases(results: PhaseResult[], kind?: EdgeKind): number[] {
  return results.flatMap((r) => r.releases.filter((e) => !kind || e.kind === kind).map((e) => e.ms));
}

function lat(values: number[]): [string, string] {
  return [f0(percentile(values, 0.5)), f0(percentile(values, 0.99))];
}

function rawOf(cells: Cell[], c: Cell): Cell | undefined {
  return cells.find((x) => x.sys.key === 'raw' && x.shape.id === c.shape.id);
}

/**
 * Throughput relative to raw BullMQ: batch i of each system ran back to back,
 * so the ratio is taken per round (drifting background load cancels out) and
 * the median of those is reported, with its range.
 */
function ratioToRaw(cells: Cell[], c: Cell): { median: number; min: number; max: number } | undefined {
  const raw = rawOf(cells, c);
  if (!raw || c.sys.key === 'raw') return undefined;
  const n = Math.min(raw.loaded.length, c.loaded.length);
  const r = Array.from({ length: n }, (_, i) => runsPerSec(c.loaded[i]!) / runsPerSec(raw.loaded[i]!));
  return { median: median(r), min: Math.min(...r), max: Math.max(...r) };
}

export function mainTable(cells: Cell[]): string {
  const rows = [
    '| Shape | System | runs/s (loaded) | steps/s (loaded) | % of raw | release p50 unloaded (ms) | release p99 unloaded (ms) | release p50 loaded (ms) | release p99 loaded (ms) |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const c of cells) {
    const t = throughput(c);
    const ratio = ratioToRaw(cells, c);
    const spread = c.loaded.length > 1 ? ` (${f0(t.min)}–${f0(t.max)})` : '';
    const ratioText = ratio ? `${pct(ratio.median)}${c.loaded.length > 1 ? ` (${pct(ratio.min)}–${pct(ratio.max)})` : ''}` : '—';
    const kinds = new Set(c.unloaded.releases.map((e) => e.kind));
    const n = (kind?: EdgeKind): number => c.unloaded.releases.filter((e) => !kind || e.kind === kind).length / c.unloaded.runs;
    const label = `${c.sys.name} (${n()} releases/run)`;
    rows.push(
      `| ${c.sys.shapeLabel(c.shape)} | ${label} | ${f0(t.runs)}${spread} | ${f0(t.runs * c.shape.steps.length)} | ${ratioText} | ${lat(releases([c.unloaded])).join(' | ')} | ${lat(releases(c.loaded)).join(' | ')} |`,
    );
    if (kinds.size > 1) {
      for (const kind of (['tree', 'gate', 'await'] as const).filter((k) => kinds.has(k))) {
        rows.push(`| | ↳ via ${kind} edge (${n(kind)}/run) | | | | ${lat(releases([c.unloaded], kind)).join(' | ')} | ${lat(releases(c.loaded, kind)).join(' | ')} |`);
      }
    }
  }
  return rows.join('\n');
}

export function targetsTable(cells: Cell[]): string {
  const rows = ['| Shape | Target | Bullpen | Met? |', '|---|---|--:|---|'];
  const nodeCpu = (c: Cell): number => mean(c.loaded.map((r) => r.nodeCpuMs / r.runs));
  for (const c of cells.filter((x) => x.sys.key === 'bullpen')) {
    const ratio = ratioToRaw(cells, c);
    const all = releases([c.unloaded]);
    if (ratio) {
      const met = ratio.median >= TARGETS.throughputRatio ? 'yes' : '**no**';
      rows.push(`| ${c.shape.label} | throughput ≥ ${pct(TARGETS.throughputRatio)} of raw | ${pct(ratio.median)} (per-round ${pct(ratio.min)}–${pct(ratio.max)}) | ${met} |`);
      const raw = rawOf(cells, c)!;
      const est = nodeCpu(raw) / nodeCpu(c);
      rows.push(`| ${c.shape.label} | (cross-check) raw ÷ Bullpen node CPU per run | ${pct(est)} | ${est >= TARGETS.throughputRatio ? 'yes' : '**no**'} |`);
    }
    const p50 = percentile(all, 0.5);
    const p99 = percentile(all, 0.99);
    rows.push(`| ${c.shape.label} | unloaded release p50 ≤ ${TARGETS.unloadedP50Ms} ms | ${f0(p50)} ms | ${p50 <= TARGETS.unloadedP50Ms ? 'yes' : '**no**'} |`);
    rows.push(`| ${c.shape.label} | unloaded release p99 ≤ ${TARGETS.unloadedP99Ms} ms | ${f0(p99)} ms | ${p99 <= TARGETS.unloadedP99Ms ? 'yes' : '**no**'} |`);
  }
  return rows.join('\n');
}

export function diagnosticsTable(cells: Cell[]): string {
  const p = (v: number[]): string => `${f0(percentile(v, 0.5))} / ${f0(percentile(v, 0.99))}`;
  const rows = [
    '| Shape | System | BullMQ jobs per run | unloaded: run makespan p50 / p99 | unloaded: step service p50 / p99 | unloaded: mean release | loaded: create 500 runs | loaded: batch wall (median) | loaded: step service p50 / p99 | loaded: mean release | node CPU per run | node CPU per job | Redis CPU per run |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const c of cells) {
    const u = c.unloaded;
    const L = c.loaded;
    const perRun = (k: 'nodeCpuMs' | 'redisCpuMs'): number => mean(L.map((r) => r[k] / r.runs));
    const jobs = c.sys.jobsPerRun(c.shape);
    rows.push(
      `| ${c.shape.label} | ${c.sys.name} | ${jobs} | ${p(u.makespan)} | ${p(u.service)} | ${f1(mean(releases([u])))} | ${f0(median(L.map((r) => r.createMs)))} | ${f0(median(L.map((r) => r.wallMs)))} | ${p(L.flatMap((r) => r.service))} | ${f1(mean(releases(L)))} | ${f1(perRun('nodeCpuMs'))} | ${(perRun('nodeCpuMs') / jobs).toFixed(2)} | ${f1(perRun('redisCpuMs'))} |`,
    );
  }
  return rows.join('\n');
}

/** Bullpen gate edges split into their three hops. */
export function gateTable(cells: Cell[]): string | undefined {
  const withGates = cells.filter((c) => c.unloaded.gates.promote.length);
  if (!withGates.length) return undefined;
  const rows = [
    '| Shape | Phase | dep done → gate active p50 / p99 | gate active → gate done p50 / p99 | gate done → dependent active p50 / p99 | whole gate edge p50 / p99 (ms) |',
    '|---|---|--:|--:|--:|--:|',
  ];
  for (const c of withGates) {
    for (const [phase, rs] of [['unloaded', [c.unloaded]], ['loaded', c.loaded]] as const) {
      const part = (k: 'promote' | 'gate' | 'release'): string => {
        const v = rs.flatMap((r) => r.gates[k]);
        return `${f0(percentile(v, 0.5))} / ${f0(percentile(v, 0.99))}`;
      };
      rows.push(`| ${c.shape.label} | ${phase} | ${part('promote')} | ${part('gate')} | ${part('release')} | ${lat(releases([...rs], 'gate')).join(' / ')} |`);
    }
  }
  return rows.join('\n');
}

/** Commands sent per run in the loaded batches (needs --count). */
export function commandsTable(cells: Cell[]): string | undefined {
  const withCounts = cells.filter((c) => c.loaded[0]?.commands);
  if (!withCounts.length) return undefined;
  const names = new Set<string>();
  const perRun = new Map<Cell, Map<string, number>>();
  for (const c of withCounts) {
    const m = new Map<string, number>();
    const runs = c.loaded.reduce((n, r) => n + r.runs, 0);
    for (const r of c.loaded) for (const [k, v] of r.commands!) m.set(k, (m.get(k) ?? 0) + v / runs);
    perRun.set(c, m);
    for (const k of m.keys()) names.add(k);
  }
  const header = `| command | ${withCounts.map((c) => `${c.sys.name} ${c.shape.id}`).join(' | ')} |`;
  const rows = [header, `|---|${withCounts.map(() => '--:').join('|')}|`];
  const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  rows.push(`| **total per run** | ${withCounts.map((c) => `**${f1(total(perRun.get(c)!))}**`).join(' | ')} |`);
  const order = [...names].sort((a, b) => Math.max(...withCounts.map((c) => perRun.get(c)!.get(b) ?? 0)) - Math.max(...withCounts.map((c) => perRun.get(c)!.get(a) ?? 0)));
  for (const k of order) rows.push(`| ${k} | ${withCounts.map((c) => f1(perRun.get(c)!.get(k) ?? 0)).join(' | ')} |`);
  return rows.join('\n');
}

const BEGIN = '<!-- bench:begin (generated by `npm run bench`; edit outside these markers) -->';
const END = '<!-- bench:end -->';

/** Replaces the generated block of RESULTS.md, keeping what is written around it. */
export function writeResults(path: string, block: string): void {
  const generated = `${BEGIN}\n${block.trim()}\n${END}`;
  if (!existsSync(path)) {
    writeFileSync(path, `# Bullpen engine benchmark\n\n${generated}\n`);
    return;
  }
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  writeFileSync(path, a >= 0 && b > a ? `${text.slice(0, a)}${generated}${text.slice(b + END.length)}` : `${text.trimEnd()}\n\n${generated}\n`);
}
