/**
 * A real 3-member etcd 3.4 cluster on loopback (ephemeral client and peer ports), for fault tests:
 * kill a member, start it again on its data dir. stop() kills every member and removes the temp dir.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { isRunning, killProcess, spawnServer } from './process.ts';

export interface EtcdCluster {
  /** "127.0.0.1:port" of each member, in member order. */
  readonly endpoints: readonly string[];
  /** Index of the member that reports itself leader, or undefined. */
  leader(): Promise<number | undefined>;
  /** SIGKILL member `i`. */
  kill(i: number): Promise<void>;
  /** Start member `i` again on its data dir; resolves once it reports healthy (bounded). */
  start(i: number): Promise<void>;
  /** Resolves once every running member reports healthy (bounded). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startEtcdCluster(): Promise<EtcdCluster> {
  const root = await mkdtemp(join(tmpdir(), 'dockstack-etcd3-'));
  const members = await Promise.all([1, 2, 3].map(async (n) => ({ name: `m${n}`, client: await freePort(), peer: await freePort(), proc: undefined as ChildProcess | undefined })));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  let started = false;

  const launch = (i: number): void => {
    const m = members[i]!;
    const client = `http://127.0.0.1:${m.client}`;
    const peer = `http://127.0.0.1:${m.peer}`;
    const p = spawnServer('etcd', [
      '--name', m.name, '--data-dir', join(root, m.name), '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', initialCluster,
      '--initial-cluster-state', started ? 'existing' : 'new', '--initial-cluster-token', 'dockstack-test',
      '--heartbeat-interval', '50', '--election-timeout', '500', '--logger', 'zap', '--log-outputs', join(root, `${m.name}.log`),
    ]);
    m.proc = p;
  };
  const running = (i: number): boolean => isRunning(members[i]!.proc);
  const kill = async (i: number): Promise<void> => {
    const p = members[i]!.proc;
    members[i]!.proc = undefined;
    await killProcess(p, 0);
  };
  const waitHealthy = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = members.filter((_, i) => running(i));
      const ok = await Promise.all(live.map((m) => healthy(m.client)));
      if (live.length > 0 && ok.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`etcd cluster not healthy within ${timeoutMs} ms (logs in ${root})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((_, i) => kill(i)));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (const i of [0, 1, 2]) launch(i);
    await waitHealthy();
    started = true;
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoints: members.map((m) => `127.0.0.1:${m.client}`),
    async leader() {
      for (const [i, m] of members.entries()) {
        if (!running(i)) continue;
        const s = await status(m.client);
        if (s && s.leader === s.member) return i;
      }
      return undefined;
    },
    kill,
    async start(i) {
      if (!running(i)) launch(i);
      await waitHealthy();
    },
    waitHealthy,
    stop,
  };
}

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(500) });
    return ((await res.json()) as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
}

/** The member's own id and the leader's id, from the v3 gRPC gateway's maintenance status. */
async function status(port: number): Promise<{ member: string; leader: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(500) });
    const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
    return body.header?.member_id && body.leader ? { member: body.header.member_id, leader: body.leader } : undefined;
  } catch {
    return undefined;
  }
}
