/**
 * Registry hosts → IP literals a proxy can route to. A name that does not resolve, or not in time,
 * is rejected with the reason (listed in status.rejected), never handed on: what the proxy routes
 * to and what the status says must be the same set.
 */
import { isIP } from 'node:net';
import { addressOf, canonicalIp } from '../net/address.ts';
import type { HostResolver } from '../net/host-resolver.ts';
import type { Endpoint } from '../proxy/proxy.ts';
import type { Rejected } from '../registry/registry.ts';

/** Resolve each hostname once (first address, bounded by `resolver`); IP literals pass through in canonical form. */
export async function resolveEndpoints(endpoints: readonly Endpoint[], resolver: HostResolver): Promise<{ endpoints: Endpoint[]; rejected: Rejected[] }> {
  const names = endpoints.filter((e) => isIP(e.host) === 0).map((e) => e.host);
  const resolved = names.length ? await resolver.resolveAll(names) : new Map();
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
