/**
 * A real etcd 3.4 on ephemeral loopback client/peer ports in a fresh temp dir, for one test file.
 * stop() kills it and removes the dir; restart() keeps the data (leases survive a restart).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { spawnServer, startRestartable, waitReady } from './process.ts';

export interface EtcdServer {
  /** "127.0.0.1:port" */
  readonly endpoint: string;
  readonly endpoints: readonly string[];
  readonly port: number;
  readonly dataDir: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Start etcd and wait (bounded) until GET /health says healthy. */
export async function startEtcd(): Promise<EtcdServer> {
  const root = await mkdtemp(join(tmpdir(), 'dockstack-etcd-'));
  const dataDir = join(root, 'data');
  const port = await freePort();
  const peerPort = await freePort();
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const server = await startRestartable(
    root,
    () => spawnServer('etcd', [
      '--name', 'test', '--data-dir', dataDir, '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `test=${peer}`,
      '--logger', 'zap', '--log-outputs', join(root, 'etcd.log'),
    ]),
    (proc) => waitReady(`etcd on ${port}`, () => healthy(client), { proc, hint: `see ${root}/etcd.log` }),
  );
  return {
    endpoint: `127.0.0.1:${port}`,
    endpoints: [`127.0.0.1:${port}`],
    port,
    dataDir,
    restart: server.restart,
    stop: server.stop,
  };
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
    const body = (await res.json()) as { health?: unknown };
    return body.health === 'true';
  } catch {
    return false;
  }
}
