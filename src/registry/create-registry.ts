/**
 * Build a Registry from a URL: `memory://`, `zk://h1:2181,h2:2181/optional/chroot`,
 * `etcd://h1:2379,h2:2379`, `etcds://h1:2379` (etcd over TLS). Never waits for the server: operations fail transiently until it is up.
 */
import { UsageError } from '../errors.ts';
import type { Registry } from './registry.ts';

export interface RegistryOptions {
  url: string;
  /** "user:pass" for ZooKeeper digest auth. */
  zkAuth?: string;
  /** Default 10000. */
  sessionTimeoutMs?: number;
  /** How long one connection attempt may take (ZooKeeper default 2000; etcd dial, default opTimeoutMs). */
  connectTimeoutMs?: number;
  /** Deadline of each registry operation; default 5000. */
  opTimeoutMs?: number;
  /** Default "/dockstack". */
  etcdPrefix?: string;
  /** Default 10. */
  leaseTtlSec?: number;
  etcdAuth?: { username: string; password: string };
  /** Entries and bytes read per etcd path (default 100,000 and 16 MiB). */
  etcdPathLimits?: { maxEntries?: number; maxBytes?: number };
  /** PEM bytes for etcds://: the CA to verify etcd with (default: the system's), a client certificate and its key. */
  etcdTls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  onEvent?: (e: { type: string; message: string }) => void;
}

const HOSTS_RE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}(?:,(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5})*$/;
const CHROOT_RE = /^(?:\/[A-Za-z0-9._-]+)*$/;
const FORMS = 'expected memory://, zk://host1:2181,host2:2181[/chroot], etcd://host1:2379,host2:2379 or etcds://host1:2379 (TLS)';

/**
 * The registry URL for etcd endpoints written as ETCD_ENDPOINTS and etcdctl take them
 * ("https://h1:2379,https://h2:2379"): https is etcds://, never quietly plain http.
 */
export function etcdUrlFromEndpoints(raw: string, what = 'ETCD_ENDPOINTS'): string {
  const list = raw.split(',').map((e) => e.trim().replace(/\/$/, ''));
  const tls = list.filter((e) => e.startsWith('https://')).length;
  if (tls !== 0 && tls !== list.length) throw new UsageError(`${what}: mixes https:// and plain endpoints`, { hint: 'use https:// for every endpoint, or for none' });
  return `${tls ? 'etcds' : 'etcd'}://${list.map((e) => e.replace(/^https?:\/\//, '')).join(',')}`;
}

/**
 * Create the registry named by `opts.url`; a malformed URL rejects with UsageError. Only the client
 * the URL names is loaded: etcd3 (gRPC, protobufjs) costs ~60 ms and ~25 MB an agent on ZooKeeper
 * should not pay, and the other way round. Even the memory registry is imported here, not at the
 * top: it brings the manifest schemas, which the agent's options (importing this module for
 * etcdUrlFromEndpoints) must not build before the status API listens.
 */
export async function createRegistry(opts: RegistryOptions): Promise<Registry> {
  const m = /^([a-z]+):\/\/(.*)$/.exec(opts.url);
  const bad = (why: string): UsageError => new UsageError(`registry URL ${JSON.stringify(opts.url)}: ${why}`, { hint: FORMS });
  if (!m) throw bad('not a URL');
  const [, scheme = '', rest = ''] = m;
  const opTimeoutMs = opts.opTimeoutMs ?? 5000;
  const onEvent = opts.onEvent ? { onEvent: opts.onEvent } : {};
  if (scheme === 'memory') {
    if (rest !== '') throw bad('memory:// takes nothing after the scheme');
    const { MemoryRegistry } = await import('./memory-registry.ts');
    return new MemoryRegistry();
  }
  if (scheme === 'zk') {
    const slash = rest.indexOf('/');
    const servers = slash < 0 ? rest : rest.slice(0, slash);
    const chroot = (slash < 0 ? '' : rest.slice(slash)).replace(/\/$/, '');
    if (!HOSTS_RE.test(servers)) throw bad('expected host:port[,host:port...]');
    if (!CHROOT_RE.test(chroot)) throw bad(`invalid chroot ${JSON.stringify(chroot)}`);
    if (opts.zkAuth !== undefined && !/^[^:]+:.+$/.test(opts.zkAuth)) throw new UsageError('zk auth: expected "user:password"');
    const { ZookeeperRegistry } = await import('./zookeeper-registry.ts');
    return new ZookeeperRegistry({
      servers,
      chroot,
      sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000,
      opTimeoutMs,
      ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(opts.zkAuth ? { auth: opts.zkAuth } : {}),
      ...onEvent,
    });
  }
  if (scheme === 'etcd' && opts.etcdTls) throw new UsageError('etcd TLS files are given but the registry URL is etcd:// (plain)', { hint: 'use etcds://host:2379 (or https:// endpoints in ETCD_ENDPOINTS)' });
  if (scheme === 'etcd' || scheme === 'etcds') {
    if (!HOSTS_RE.test(rest)) throw bad('expected host:port[,host:port...]');
    const prefix = (opts.etcdPrefix ?? '/dockstack').replace(/\/$/, '');
    const { EtcdRegistry } = await import('./etcd-registry.ts');
    return new EtcdRegistry({
      hosts: rest.split(','),
      prefix,
      leaseTtlSec: opts.leaseTtlSec ?? 10,
      ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      opTimeoutMs,
      ...(opts.etcdAuth ? { auth: opts.etcdAuth } : {}),
      ...(opts.etcdPathLimits ? { pathLimits: opts.etcdPathLimits } : {}),
      ...(scheme === 'etcds' && { tls: opts.etcdTls ?? {} }),
      ...onEvent,
    });
  }
  throw bad(`unknown scheme ${JSON.stringify(scheme)}`);
}
