/**
 * Host and host:port syntax as plain regular expressions, so the published JSON Schema (a
 * `pattern`) refuses exactly what the agent refuses: a zod refinement calling `net.isIP` is
 * invisible to JSON Schema. test/host-syntax.test.ts checks them against `net.isIP` and the
 * hostname rule they replace.
 */

const label = (chars: string) => `[${chars}](?:[${chars}-]{0,61}[${chars}])?`;
/** RFC 1123 hostname labels joined by dots (an IPv4 literal is one too); the 253-character cap is the caller's lookahead. */
const HOSTNAME = `${label('A-Za-z0-9')}(?:\\.${label('A-Za-z0-9')})*`;

const octet = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = `(?:${octet}\\.){3}${octet}`;
const h16 = '[0-9A-Fa-f]{1,4}';
const ls32 = `(?:${h16}:${h16}|${IPV4})`;
/** RFC 4291 §2.2 text forms: n groups before "::" and m after, n + m ≤ 7 (or 8 groups, no "::"). */
function ipv6(): string {
  const forms = [`(?:${h16}:){6}${ls32}`];
  const before = (n: number) => (n === 0 ? '' : `(?:(?:${h16}:){0,${n - 1}}${h16})?`);
  const tails = [`(?:${h16}:){5}${ls32}`, `(?:${h16}:){4}${ls32}`, `(?:${h16}:){3}${ls32}`, `(?:${h16}:){2}${ls32}`, `${h16}:${ls32}`, ls32, h16, ''];
  tails.forEach((tail, i) => forms.push(`${before(i)}::${tail}`));
  return `(?:${forms.join('|')})`;
}
const IPV6 = ipv6();
/** Zone ids as node's isIP accepts them ("fe80::1%eth0"). */
const ZONE = '(?:%[0-9A-Za-z.:-]+)?';

/** An IPv4/IPv6 literal (as `net.isIP` accepts it) or an RFC 1123 hostname of at most 253 characters. */
export const HOST_RE = new RegExp(`^(?:(?=.{1,253}$)${HOSTNAME}|${IPV6}${ZONE})$`);

/** 1–65535 in at most five digits, leading zeros allowed ("080"). */
const PORT = '(?!0+$)(?:\\d{1,4}|0\\d{4}|[1-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d{2}|655[0-2]\\d|6553[0-5])';
/** Inside brackets: an IPv6 literal without zone, or a hostname spelt only with hex digits and dots. */
const BRACKETED = `\\[(?:${IPV6}|(?=[0-9A-Fa-f.]{1,253}\\])[0-9A-Fa-f]{1,63}(?:\\.[0-9A-Fa-f]{1,63})*)\\]`;
/** "host:port" or "[v6]:port" with a valid host and a port 1–65535. */
export const HOST_PORT_RE = new RegExp(`^(?:${BRACKETED}|(?=[^:]{1,253}:)${HOSTNAME}):${PORT}$`);

/** True for an IPv4/IPv6 literal or an RFC 1123 hostname: the only hosts that may reach HAProxy. */
export const isValidHost = (host: string): boolean => HOST_RE.test(host);

/** The host (brackets removed) and port of a valid "host:port", else undefined. */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  if (!HOST_PORT_RE.test(s)) return undefined;
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}
