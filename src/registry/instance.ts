/**
 * Parsing of instance data read from a registry. It was written by other agents (real Nerve
 * included), so it is untrusted: anything that is not a valid host and port is rejected with a
 * reason, and nothing unvalidated can reach the HAProxy config.
 */
import { isIP } from 'node:net';
import { isValidHost, LABEL_KEY_RE } from '../manifest/schema.ts';
import { addressOf, canonicalIp } from '../net/address.ts';
import type { Instance, Listing, Rejected } from './registry.ts';
import { ordinal } from '../ordinal.ts';

/** Largest node payload we parse; Nerve's are ~100 bytes. */
export const MAX_INSTANCE_BYTES = 64 * 1024;
const NAME_RE = /^[A-Za-z0-9._:-]{1,253}$/;

/** Parse one registry entry (JSON bytes) into an Instance or a Rejected with a reason. */
export function parseInstance(key: string, data: Buffer | string | undefined | null): Instance | Rejected {
  const reject = (reason: string): Rejected => ({ key, reason });
  if (data === undefined || data === null) return reject('no data');
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size === 0) return reject('empty data');
  if (size > MAX_INSTANCE_BYTES) return reject(`data is ${size} bytes, over the ${MAX_INSTANCE_BYTES}-byte limit`);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return reject('data is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject('data is not a JSON object');
  const o = raw as Record<string, unknown>;
  if (typeof o.host !== 'string' || !isValidHost(o.host)) return reject(`invalid host ${JSON.stringify(o.host)?.slice(0, 80)}`);
  // One spelling per address, one a proxy accepts: "::FFFF:10.0.0.1" and "10.0.0.1" are the same backend.
  let host = o.host;
  if (isIP(host) !== 0) {
    const c = canonicalIp(host);
    if ('reason' in c) return reject(`invalid host: ${c.reason}`);
    if (c.ip === '0.0.0.0' || c.ip === '::') return reject(`invalid host ${host}: an unspecified address is not a backend`);
    host = c.ip;
  }
  const port = typeof o.port === 'string' && /^\d{1,5}$/.test(o.port) ? Number(o.port) : o.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    return reject(`invalid port ${JSON.stringify(o.port)?.slice(0, 40)}`);
  const name = typeof o.name === 'string' && NAME_RE.test(o.name) ? o.name : `${host}:${port}`;
  const inst: { -readonly [K in keyof Instance]: Instance[K] } = { host, port, name };
  if (o.weight !== undefined && o.weight !== null) {
    if (typeof o.weight !== 'number' || !Number.isInteger(o.weight) || o.weight < 0 || o.weight > 256)
      return reject(`invalid weight ${JSON.stringify(o.weight)?.slice(0, 40)}`);
    inst.weight = o.weight;
  }
  if (o.labels && typeof o.labels === 'object' && !Array.isArray(o.labels)) {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.labels as Record<string, unknown>))
      if (LABEL_KEY_RE.test(k) && typeof v === 'string' && v.length <= 253) labels[k] = v;
    if (Object.keys(labels).length) inst.labels = labels;
  }
  return inst;
}

export const isRejected = (x: Instance | Rejected): x is Rejected => 'reason' in x;

/** Build a Listing from parsed entries: dedupe by host:port (first key in sorted order wins), sort. */
export function toListing(entries: ReadonlyArray<Instance | Rejected>): Listing {
  const byAddr = new Map<string, Instance>();
  const rejected: Rejected[] = [];
  for (const e of entries) {
    if (isRejected(e)) rejected.push(e);
    else {
      const addr = addressOf(e);
      if (!byAddr.has(addr)) byAddr.set(addr, e);
    }
  }
  const instances = [...byAddr.values()].sort((a, b) => ordinal(addressOf(a), addressOf(b)));
  return { instances, rejected };
}

export { addressOf };

/** The JSON written for an instance: Nerve's format. */
export function encodeInstance(i: Instance): string {
  const o: Record<string, unknown> = { host: i.host, port: i.port, name: i.name };
  if (i.weight !== undefined) o.weight = i.weight;
  if (i.labels && Object.keys(i.labels).length) o.labels = i.labels;
  return JSON.stringify(o);
}
