/** Human output for get/describe: kubectl-like aligned tables and a describe layout. */
import type { ObjectView } from '../agent.ts';
import type { StatusEvent } from '../reconcile/status-store.ts';
import type { LiveServer } from '../server/live-backends.ts';
import { terminalSafe } from './terminal-safe.ts';

/** Live servers by Subscription name, as GET /api/v1/backends serves them. */
export type LiveBackends = Readonly<Record<string, readonly LiveServer[]>>;

const cond = (v: ObjectView, type: string) => v.status.conditions.find((c) => c.type === type);

function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

function row(v: ObjectView, wide: boolean, live?: LiveBackends): string[] {
  const ready = cond(v, 'Ready');
  const valid = cond(v, 'Valid');
  const d = v.status.details;
  const spec = (v.spec ?? {}) as Record<string, unknown>;
  const base = [v.metadata.name, ready?.status ?? 'Unknown', ready?.reason ?? (valid?.status === 'False' ? 'InvalidManifest' : '-')];
  const kindCols =
    v.kind === 'Service'
      ? [String(spec.path ?? '-'), d.host && d.port ? `${String(d.host)}:${String(d.port)}` : '-']
      : [String(spec.service ?? '-'), String(d.listen ?? '-'), String(d.backends?.length ?? '-')];
  const cols = [...base, ...kindCols, String(v.metadata.generation ?? '-'), String(v.status.observedGeneration ?? '-'), age(ready?.lastTransitionTime)];
  if (wide && v.kind === 'Subscription') {
    const servers = live?.[v.metadata.name];
    cols.push(servers ? `${servers.filter((x) => x.word === 'UP').length}/${servers.length}` : '-');
  }
  if (wide) cols.push(v.status.lastError ?? (v.status.validationErrors[0] ?? ''), v.metadata.source ?? '-', revisionCell(v));
  return cols.map(terminalSafe);
}

const short = (rev: string) => rev.slice(0, 12);

/** The revision in force, and the one that fails validation when there is one: "3f2a1b2c3d4e (9a8b7c6d5e4f invalid)". */
function revisionCell(v: ObjectView): string {
  const failed = v.status.failedRevision;
  const inForce = v.metadata.revision ? short(v.metadata.revision) : '-';
  return failed ? `${inForce} (${short(failed)} invalid)` : inForce;
}

/** An aligned table of objects (all of one kind). */
export function renderTable(items: readonly ObjectView[], wide: boolean, header = true, live?: LiveBackends): string {
  if (items.length === 0) return '';
  const kind = items[0]!.kind;
  const head = ['NAME', 'READY', 'REASON', ...(kind === 'Service' ? ['PATH', 'ADDRESS'] : ['SERVICE', 'LISTEN', 'BACKENDS']), 'GEN', 'OBSERVED', 'AGE'];
  if (wide) head.push(...(kind === 'Subscription' ? ['UP/TOTAL'] : []), 'ERROR', 'SOURCE', 'REVISION');
  const rows = items.map((i) => row(i, wide, live));
  const all = header ? [head, ...rows] : rows;
  const widths = head.map((_, c) => Math.max(...[head, ...rows].map((r) => (r[c] ?? '').length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('   ')).join('\n') + '\n';
}

/** kubectl-describe-like text: metadata, spec, conditions table, details, events. yaml loads here, not with every `get`. */
export async function renderDescribe(v: ObjectView, events: readonly StatusEvent[], backends?: readonly LiveServer[] | string): Promise<string> {
  const { default: YAML } = await import('yaml');
  const lines: string[] = [];
  lines.push(`Name:                ${v.metadata.name}`, `Kind:                ${v.kind}`);
  lines.push(`Source:              ${v.metadata.source ?? '-'}`);
  if (v.metadata.revision) lines.push(`Revision:            ${v.metadata.revision}`);
  if (v.status.failedRevision) lines.push(`Failed Revision:     ${v.status.failedRevision} (does not validate; ${v.metadata.revision ? `${short(v.metadata.revision)} stays in force` : 'nothing in force'})`);
  lines.push(`Generation:          ${v.metadata.generation ?? '-'}`, `Observed Generation: ${v.status.observedGeneration ?? '-'}`);
  if (v.status.lastError) lines.push(`Last Error:          ${v.status.lastError}`, `Retries:             ${v.status.retries}`);
  if (v.status.validationErrors.length) lines.push('Validation Errors:', ...v.status.validationErrors.map((e) => `  ${e}`));
  lines.push('Spec:', ...indent(YAML.stringify(v.spec ?? {})));
  lines.push('Conditions:', '  TYPE              STATUS   REASON               AGE    MESSAGE');
  for (const c of v.status.conditions)
    lines.push(`  ${c.type.padEnd(17)} ${c.status.padEnd(8)} ${c.reason.padEnd(20)} ${age(c.lastTransitionTime).padEnd(6)} ${c.message}`);
  if (Object.keys(v.status.details).length) lines.push('Status:', ...indent(YAML.stringify(v.status.details)));
  if (backends !== undefined) {
    lines.push('Backends (live, from the proxy):');
    if (typeof backends === 'string') lines.push(`  <${backends}>`);
    else if (backends.length === 0) lines.push('  <none>');
    else {
      const rows = [['ADDRESS', 'STATE', 'CHECK', 'CHECK-TIME', 'SESSIONS', 'LAST-CHANGE', 'WEIGHT'], ...backends.map((b) => [
        b.address, b.word, b.check?.status ?? '-', b.check?.durationMs !== undefined ? `${b.check.durationMs}ms` : '-', String(b.sessions ?? '-'),
        b.lastChangeSeconds !== undefined ? age(new Date(Date.now() - b.lastChangeSeconds * 1000).toISOString()) : '-', String(b.weight),
      ])];
      const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows) lines.push(`  ${r.map((cell, c) => terminalSafe(cell).padEnd(w[c]!)).join('  ').trimEnd()}`);
    }
  }
  lines.push('Events:');
  if (events.length === 0) lines.push('  <none>');
  else {
    lines.push('  TYPE      REASON               AGE    MESSAGE');
    for (const e of events) lines.push(`  ${e.type.padEnd(9)} ${e.reason.padEnd(20)} ${age(e.time).padEnd(6)} ${e.message}`);
  }
  return `${lines.map(terminalSafe).join('\n')}\n`;
}

const indent = (s: string) => s.trimEnd().split('\n').map((l) => `  ${l}`);
