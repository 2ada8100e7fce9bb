/**
 * Registry hosts → IP literals a proxy can route to. A name that does not resolve is rejected with
 * the reason (listed in status.rejected), never handed on: what the proxy routes to and what the
 * status says must be the same set.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { addressOf, canonicalIp } from '../net/address.ts';
import type { Endpoint } from '../proxy/proxy.ts';
import type { Rejected } from '../registry/registry.ts';

/** Resolve each hostname once (first address); IP literals pass through in canonical form. */
export async function resolveEndpoints(endpoints: readonly Endpoint[]): Promise<{ endpoints: Endpoint[]; rejected: Rejected[] }> {
  const names = [...new Set(endpoints.filter((e) => isIP(e.host) === 0).map((e) => e.host))];
  const resolved = new Map<string, { ip: string } | { reason: string }>();
  await Promise.all(
    names.map(async (n) => {
      try {
        resolved.set(n, canonicalIp((await lookup(n)).address));
      } catch (err) {
        resolved.set(n, { reason: `resolving ${n}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      }
    }),
  );
  const out: Endpoint[] = [];
  const rejected: Rejected[] = [];
  const seen = new Set<string>();
  for (const e of endpoints) {
    const r = resolved.get(e.host) ?? canonicalIp(e.host);
    if ('reason' in r) {
      rejected.push({ key: addressOf(e), reason: r.reason });
      continue;
    }
    const a = addressOf({ host: r.ip, port: e.port });
    if (seen.has(a)) continue;
    seen.add(a);
    out.push({ ...e, host: r.ip });
  }
  return { endpoints: out, rejected };
}
