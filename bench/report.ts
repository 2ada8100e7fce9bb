/** Markdown rendering of scenario results, and the per-scenario sections of BENCHMARKS.md. */
import { readFile, writeFile } from 'node:fs/promises';
import type { ScenarioResult, Table } from './scenario.ts';
import { ms, type Summary } from './stats.ts';

export const LATENCY_COLUMNS = ['n', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'] as const;

export function latencyCells(s: Summary): string[] {
  return [String(s.n), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max)];
}

/** "baseline ÷ ours" at p50 and p99: how many times faster ours is (same run). */
export function speedup(ours: Summary, baseline: Summary | undefined): string {
  if (!baseline) return 'baseline';
  const f = (b: number, o: number) => (o > 0 && Number.isFinite(b / o) ? `${(b / o).toFixed(1)}×` : '–');
  return `${f(baseline.p50, ours.p50)} p50, ${f(baseline.p99, ours.p99)} p99`;
}

export function renderTable(t: Table): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [`**${t.title}**`, '', line(t.columns), line(t.columns.map(() => '---')), ...t.rows.map(line)].join('\n');
}

export function renderResult(r: ScenarioResult): string {
  const notes = r.notes.map((n) => `- ${n}`).join('\n');
  return [...r.tables.map(renderTable), ...(notes ? [notes] : [])].join('\n\n');
}

const begin = (name: string) => `<!-- bench:${name}:begin -->`;
const end = (name: string) => `<!-- bench:${name}:end -->`;

/**
 * Replace the section between this scenario's markers in `file` (appending it when absent), so a
 * single-scenario run refreshes only its own section and hand-written text outside stays.
 */
export async function writeSection(file: string, name: string, markdown: string): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const block = `${begin(name)}\n${markdown.trim()}\n${end(name)}`;
  const a = text.indexOf(begin(name));
  const b = text.indexOf(end(name));
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end(name).length) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(file, next);
}
