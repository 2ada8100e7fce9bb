/**
 * The default instance id of a Service (`spec.instanceId` unset): `<name>-<host name>-<address>`.
 * Stable across restarts of one agent, so a successor replaces its crashed predecessor's entries;
 * distinct across hosts even when they share an address (a common `spec.host`, `--host 127.0.0.1`,
 * containers behind NAT with one bridge address), because two agents on one id each removed the
 * other's live entry as their own stale one (`mysql-127.0.0.1` on every host of the old default).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

const MAX = 63;

/** `address` is the agent's own (the one its Services register by default); `node` this host's name. */
export function instanceIdFor(address: string, name: string, node: string = hostname()): string {
  const raw = `${name}-${node.split('.')[0]}-${address}`.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  if (raw.length <= MAX) return raw;
  // Cut, but keep what was cut apart: two long names sharing a prefix must not share an id.
  const digest = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${raw.slice(0, MAX - 9).replace(/[^a-z0-9]+$/, '')}-${digest}`;
}
