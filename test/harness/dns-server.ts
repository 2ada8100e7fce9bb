/**
 * A DNS server on a loopback UDP port, so name resolution is tested without sending a query
 * anywhere else: A records for `answers`, silence for names matching `silent` (a resolver that
 * never answers), NXDOMAIN for everything else. `lookup` resolves through it with c-ares.
 */
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import type { Lookup } from '../../src/net/host-resolver.ts';

export interface TestDnsServer {
  readonly address: string;
  /** Every question name received, in order. */
  readonly asked: string[];
  /** Resolves A records through this server only (c-ares, one try, a long timeout of its own). */
  readonly lookup: Lookup;
  close(): Promise<void>;
}

export async function startDnsServer(opts: { answers: Record<string, string>; silent?: RegExp }): Promise<TestDnsServer> {
  const sock = createSocket('udp4');
  const asked: string[] = [];
  sock.on('message', (msg, rinfo) => {
    const q = parseQuestion(msg);
    if (!q) return;
    asked.push(q.name);
    if (opts.silent?.test(q.name)) return;
    const ip = q.type === 1 ? opts.answers[q.name.toLowerCase()] : undefined;
    const known = q.name.toLowerCase() in opts.answers;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(known ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(ip ? 1 : 0, 6);
    const answer = ip ? Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(ip.split('.').map(Number))]) : Buffer.alloc(0);
    sock.send(Buffer.concat([header, msg.subarray(12, q.end), answer]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const address = `127.0.0.1:${sock.address().port}`;
  const resolver = new Resolver({ timeout: 30_000, tries: 1 });
  resolver.setServers([address]);
  return {
    address,
    asked,
    lookup: async (name) => (await resolver.resolve4(name))[0]!,
    close: () => {
      resolver.cancel();
      return new Promise((r) => sock.close(() => r()));
    },
  };
}

function parseQuestion(msg: Buffer): { name: string; type: number; end: number } | undefined {
  if (msg.length < 17) return undefined;
  const labels: string[] = [];
  let i = 12;
  while (i < msg.length && msg[i] !== 0) {
    const len = msg[i]!;
    labels.push(msg.toString('latin1', i + 1, i + 1 + len));
    i += len + 1;
  }
  if (i + 5 > msg.length) return undefined;
  return { name: labels.join('.'), type: msg.readUInt16BE(i + 1), end: i + 5 };
}
