/**
 * A real 3-member etcd 3.4 cluster on loopback (ephemeral client and peer ports), for fault tests:
 * kill a member, start it again on its data dir. stop() kills every member and removes the temp dir.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdHealthy } from './etcd.ts';
import { httpOn, loopback, type NetHost } from './net-host.ts';
import { isRunning, killProcess } from './process.ts';

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

/** Start three members, on `opts.on[i]` each (default all on loopback). */
export async function startEtcdCluster(opts: { on?: readonly [NetHost, NetHost, NetHost] } = {}): Promise<EtcdCluster> {
  const root = await mkdtemp(join(tmpdir(), 'dockstack-etcd3-'));
  const on = opts.on ?? [loopback, loopback, loopback];
  const members = await Promise.all(on.map(async (host, n) => ({ name: `m${n + 1}`, host, client: await host.port(), peer: await host.port(), proc: undefined as ChildProcess | undefined })));
  const initialCluster = members.map((m) => `${m.name}=http://${m.host.addr}:${m.peer}`).join(',');
  let started = false;

  const launch = (i: number): void => {
    const m = members[i]!;
    const client = `http://${m.host.addr}:${m.client}`;
    const peer = `http://${m.host.addr}:${m.peer}`;
    const p = m.host.spawn('etcd', [
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
      const ok = await Promise.all(live.map((m) => etcdHealthy(m.host, m.client)));
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
    endpoints: members.map((m) => `${m.host.addr}:${m.client}`),
    async leader() {
      for (const [i, m] of members.entries()) {
        if (!running(i)) continue;
        const s = await status(m.host, m.client);
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

/** The member's own id and the leader's id, from the v3 gRPC gateway's maintenance status. */
async function status(on: NetHost, port: number): Promise<{ member: string; leader: string } | undefined> {
  try {
    const res = await httpOn(on, port, '/v3/maintenance/status', { method: 'POST', body: '{}', timeoutMs: 500 });
    const body = JSON.parse(res.body) as { header?: { member_id?: string }; leader?: string };
    return body.header?.member_id && body.leader ? { member: body.header.member_id, leader: body.leader } : undefined;
  } catch {
    return undefined;
  }
}
