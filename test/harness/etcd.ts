/**
 * A real etcd 3.4 on ephemeral loopback client/peer ports in a fresh temp dir, for one test file.
 * stop() kills it and removes the dir; restart() keeps the data (leases survive a restart).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpOn, loopback, type NetHost } from './net-host.ts';
import { startRestartable, waitReady } from './process.ts';

export interface EtcdServer {
  /** "127.0.0.1:port" */
  readonly endpoint: string;
  readonly endpoints: readonly string[];
  readonly port: number;
  readonly dataDir: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Start etcd on `opts.on` (default loopback) and wait (bounded) until GET /health says healthy. */
export async function startEtcd(opts: { on?: NetHost } = {}): Promise<EtcdServer> {
  const on = opts.on ?? loopback;
  const root = await mkdtemp(join(tmpdir(), 'dockstack-etcd-'));
  const dataDir = join(root, 'data');
  const port = await on.port();
  const peerPort = await on.port();
  const client = `http://${on.addr}:${port}`;
  const peer = `http://${on.addr}:${peerPort}`;
  const server = await startRestartable(
    root,
    () => on.spawn('etcd', [
      '--name', 'test', '--data-dir', dataDir, '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `test=${peer}`,
      '--logger', 'zap', '--log-outputs', join(root, 'etcd.log'),
    ]),
    (proc) => waitReady(`etcd on ${port}`, () => etcdHealthy(on, port), { proc, hint: `see ${root}/etcd.log` }),
  );
  return {
    endpoint: `${on.addr}:${port}`,
    endpoints: [`${on.addr}:${port}`],
    port,
    dataDir,
    restart: server.restart,
    stop: server.stop,
  };
}

/** True when the member at `on`:`port` says GET /health healthy (bounded 500 ms). */
export async function etcdHealthy(on: NetHost, port: number): Promise<boolean> {
  try {
    const res = await httpOn(on, port, '/health', { timeoutMs: 500 });
    return (JSON.parse(res.body) as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
}
