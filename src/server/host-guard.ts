/**
 * DNS-rebinding guard for the status API. A web page can make a browser on this host send requests
 * to 127.0.0.1 under the page's own (rebound) name; the browser then lets the page read the answers.
 * The Host header is what gives it away: only names we know to be ours are served.
 */
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** The host part of a Host header ("[::1]:7070" → "::1", "Example:80" → "example"). */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/**
 * A predicate over requests: true when its Host names the bind address, localhost, a loopback
 * literal, the address the connection arrived on (an IP literal cannot be rebound), or one of
 * `allowed`. A request with no Host header (HTTP/1.0; browsers always send one) passes.
 */
export function hostGuard(bindHost: string, allowed: readonly string[] = []): (req: IncomingMessage) => boolean {
  const names = new Set(['localhost', '127.0.0.1', '::1', bindHost.toLowerCase(), ...allowed.map(hostOf)]);
  return (req) => {
    const header = req.headers.host;
    if (header === undefined) return true;
    const h = hostOf(header);
    return names.has(h) || (isIP(h) !== 0 && h === req.socket.localAddress?.replace(/^::ffff:/, ''));
  };
}
