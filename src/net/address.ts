/** Host and address helpers shared by the registry, the controllers and the proxies. */
import { SocketAddress as NodeSocketAddress, isIP } from 'node:net';

/** "host:port", with IPv6 literals bracketed. */
export function addressOf(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Whether canonicalIp accepts `ip`, without building its canonical form (for IPv6 ~10× the cost of this check). */
export function isRoutableIp(ip: string): boolean {
  return isIP(ip) !== 0 && !ip.includes('%');
}

/**
 * The one spelling of an IP literal that a proxy accepts and reports back, or a reason it cannot
 * be used: IPv6 lower-cased and compressed ("0:0::1" → "::1"), IPv4-mapped IPv6 as IPv4
 * ("::ffff:10.0.0.1" → "10.0.0.1", the address HAProxy shows), and zone-scoped IPv6
 * ("fe80::1%lo") refused: node accepts it, HAProxy's runtime API does not.
 */
export function canonicalIp(ip: string): { ip: string } | { reason: string } {
  const family = isIP(ip);
  if (family === 0) return { reason: `${JSON.stringify(ip).slice(0, 80)} is not an IP literal` };
  if (family === 4) return { ip };
  if (ip.includes('%')) return { reason: `zone-scoped IPv6 ${JSON.stringify(ip).slice(0, 80)} cannot be routed to by a proxy` };
  const canon = new NodeSocketAddress({ address: ip, family: 'ipv6' }).address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(canon);
  return { ip: mapped ? mapped[1]! : canon };
}
