/**
 * What to say about rejected registry entries: only those not reported before, grouped by the kind
 * of problem ("invalid port 70000" and "invalid port 71000" are one kind), one message per group
 * with its count. 2,000 junk entries are two log lines and two events, not 2,000 of each.
 */
import type { Rejected } from '../registry/registry.ts';
import { ordinal } from '../ordinal.ts';

export interface RejectedGroup {
  /** The reason with its values blanked: what the entries of the group have in common. */
  readonly kind: string;
  readonly count: number;
  /** "1000 entries rejected: invalid port 70000 (/services/web/a_0000000001 and 999 more like it)" */
  readonly message: string;
}

/** How many rejected entries a Subscription's status lists: 100,000 junk entries must not make every status read megabytes. */
export const REJECTED_SHOWN = 100;

/** The entries a status lists: the first REJECTED_SHOWN by key, so the same junk lists the same way on every read. */
export function shownRejections(now: readonly Rejected[], limit = REJECTED_SHOWN): { rejected: Rejected[]; rejectedCount: number } {
  // A bounded selection, not a sort of all of `now`: each entry is compared with the current
  // last-shown one, and only one that would be shown is binary-inserted. Same result as a stable sort then slice.
  const cmp = (a: Rejected, b: Rejected) => ordinal(a.key, b.key) || ordinal(a.reason, b.reason);
  const shown: Rejected[] = [];
  for (const r of now) {
    if (shown.length === limit && (limit === 0 || cmp(r, shown[limit - 1]!) >= 0)) continue;
    let lo = 0;
    let hi = shown.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(r, shown[mid]!) < 0) hi = mid;
      else lo = mid + 1;
    }
    shown.splice(lo, 0, r);
    if (shown.length > limit) shown.pop();
  }
  return { rejected: shown, rejectedCount: now.length };
}

const idOf = (r: Rejected) => `${r.key}: ${r.reason}`;

/** The kind of a reason: quoted strings and numbers blanked, so entries differing only in their values group together. */
export function reasonKind(reason: string): string {
  return reason.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|(?<=^resolving )[^:]+/g, '_');
}

/** The entries of `now` not in `before` (ids from a previous call), grouped; and the ids of `now` to pass next time. */
export function newRejections(before: ReadonlySet<string>, now: readonly Rejected[]): { groups: RejectedGroup[]; ids: Set<string> } {
  const ids = new Set(now.map(idOf));
  const byKind = new Map<string, Rejected[]>();
  for (const r of now) {
    if (before.has(idOf(r))) continue;
    const k = reasonKind(r.reason);
    const list = byKind.get(k) ?? [];
    byKind.set(k, list);
    list.push(r);
  }
  const groups = [...byKind].map(([kind, list]) => {
    const first = list[0]!;
    const more = list.length > 1 ? ` and ${list.length - 1} more like it` : '';
    return { kind, count: list.length, message: `${list.length} ${list.length === 1 ? 'entry' : 'entries'} rejected: ${first.reason} (${first.key}${more})` };
  });
  return { groups, ids };
}
