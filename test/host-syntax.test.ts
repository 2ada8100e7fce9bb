/**
 * The host and host:port regular expressions (what the JSON Schema publishes) decide exactly as the
 * rules they replaced: `net.isIP` or an RFC 1123 hostname, and "host:port" / "[v6]:port" with a
 * port 1–65535. Checked on hand-picked edges and on generated near-misses.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import { isValidHost, parseHostPort } from '../src/manifest/host-syntax.ts';
import { canonicalIp, isRoutableIp } from '../src/net/address.ts';

// The rules as they were written before the regular expressions: the oracle.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const oracleHost = (h: string) => isIP(h) !== 0 || HOSTNAME.test(h);
function oracleHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const host = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  return oracleHost(host) && port >= 1 && port <= 65535 ? { host, port } : undefined;
}

let seed = 12;
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
};
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
const hex = () => (rand(0x10000)).toString(16).slice(0, 1 + rand(4));

/** IPv6-ish text: 1–9 groups, maybe one or two "::", maybe an IPv4 tail or a zone. */
function v6ish(): string {
  const groups = Array.from({ length: 1 + rand(9) }, hex);
  if (rand(3) === 0) groups.push(`${rand(300)}.${rand(256)}.${rand(256)}.${rand(260)}`);
  let s = groups.join(':');
  for (let k = rand(3); k > 0; k--) {
    const i = rand(s.length + 1);
    s = `${s.slice(0, i)}${rand(2) ? '::' : ':'}${s.slice(i)}`;
  }
  if (rand(5) === 0) s += `%${pick(['eth0', 'a.b:c-d', '', 'a_b', 'x/y'])}`;
  return s;
}
function hostish(): string {
  const labels = Array.from({ length: 1 + rand(4) }, () => pick(['a', 'A', '0', '-', '_', 'ab-c', 'x'.repeat(62 + rand(3)), '0f', 'FF', '']));
  return pick([labels.join('.'), `${rand(300)}.${rand(300)}.${rand(300)}.${rand(300)}`, v6ish(), `0${rand(10)}.1.2.3`]);
}
const portish = () => pick([String(rand(70000)), `0${rand(100)}`, '0', '00000', '65535', '65536', '99999', '000080', '', 'x']);
const ALPHABET = '0123456789abcdefABCDEFxz.:-%[]_ /\n';
const noise = () => Array.from({ length: rand(24) }, () => ALPHABET[rand(ALPHABET.length)]).join('');

const EDGES = [
  '127.0.0.1', '::1', '::', '1::', 'fe80::1%eth0', 'fe80::1%', '::ffff:1.2.3.4', '::ffff:01.2.3.4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '1::2::3', '999.1.1.1', '01.2.3.4', 'a..b', '-a', 'a-', 'x'.repeat(63), 'x'.repeat(64),
  `${'a.'.repeat(126)}a`, `${'a.'.repeat(126)}ab`, '', ' ', 'a b', 'localhost', '10.0.0.1:80', 'é',
];

/** `f` answers every input as `oracle` does, and at least `min` inputs are accepted and `min` refused. */
function agrees(inputs: readonly string[], f: (s: string) => unknown, oracle: (s: string) => unknown, min: number): void {
  let accepted = 0;
  for (const s of inputs) {
    const want = oracle(s);
    assert.deepEqual(f(s), want, JSON.stringify(s));
    if (want) accepted++;
  }
  assert.ok(accepted >= min && accepted <= inputs.length - min, `a mix of accepted and refused inputs (${accepted} of ${inputs.length} accepted)`);
}
const hosts = () => [...EDGES, ...Array.from({ length: 20_000 }, () => pick([hostish, v6ish, noise])())];

describe('host syntax', () => {
  test('isValidHost agrees with net.isIP or the hostname rule', () => {
    agrees(hosts(), isValidHost, oracleHost, 2000);
  });

  test('parseHostPort agrees with the host:port rule, host and port included', () => {
    const inputs = [
      ...EDGES.flatMap((h) => [`${h}:80`, `[${h}]:80`, `${h}:0`, `${h}:65536`]),
      ...Array.from({ length: 20_000 }, () => pick([() => `${hostish()}:${portish()}`, () => `[${hostish()}]:${portish()}`, noise])()),
    ];
    agrees(inputs, parseHostPort, oracleHostPort, 2000);
  });

  test("isRoutableIp (the renderer's check) accepts exactly what canonicalIp does", () => {
    agrees(hosts(), isRoutableIp, (h) => 'ip' in canonicalIp(h), 200);
  });
});
