/**
 * A real 3-node ZooKeeper 3.8 ensemble on loopback (client, quorum and election ports all
 * ephemeral), for fault tests: kill the leader, a follower, or all three, and start them again on
 * the same data dirs. stop() kills every node and removes the temp dir.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopback, type NetHost } from './net-host.ts';
import { isRunning, killProcess } from './process.ts';
import { srvrMode } from './zookeeper.ts';

export interface ZooKeeperEnsemble {
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" */
  readonly connectString: string;
  readonly clientPorts: readonly number[];
  /** Index (0-2) of the node that says "Mode: leader", or undefined when there is no quorum. */
  leader(): Promise<number | undefined>;
  /** SIGKILL node `i` (a crash, not a clean shutdown). */
  kill(i: number): Promise<void>;
  /** Start node `i` again on its ports and data dir; resolves once it serves (when a quorum can form). */
  start(i: number, opts?: { waitServing?: boolean }): Promise<void>;
  /** Resolves once a quorum serves: every live node answers srvr with a mode (bounded). */
  waitQuorum(timeoutMs?: number): Promise<void>;
  /** True while node `i`'s process runs. */
  running(i: number): boolean;
  stop(): Promise<void>;
}

const CLASSPATH = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'];

/** Start three nodes, on `opts.on[i]` each (default all on loopback). */
export async function startZooKeeperEnsemble(opts: { minSessionTimeoutMs?: number; on?: readonly [NetHost, NetHost, NetHost] } = {}): Promise<ZooKeeperEnsemble> {
  const root = await mkdtemp(join(tmpdir(), 'dockstack-zk3-'));
  const on = opts.on ?? [loopback, loopback, loopback];
  const ports = await Promise.all(on.map(async (h) => ({ host: h, client: await h.port(), quorum: await h.port(), election: await h.port() })));
  const servers = ports.map((p, i) => `server.${i + 1}=${p.host.addr}:${p.quorum}:${p.election}`);
  const nodes: Array<{ dir: string; cfg: string; proc?: ChildProcess }> = [];
  for (const [i, p] of ports.entries()) {
    const dir = join(root, `node${i + 1}`);
    await mkdir(join(dir, 'data'), { recursive: true });
    await writeFile(join(dir, 'data', 'myid'), `${i + 1}\n`);
    const cfg = join(dir, 'zoo.cfg');
    await writeFile(cfg, [
      'tickTime=500', 'initLimit=10', 'syncLimit=5', `minSessionTimeout=${opts.minSessionTimeoutMs ?? 1000}`, 'maxSessionTimeout=30000',
      `dataDir=${join(dir, 'data')}`, `clientPort=${p.client}`, `clientPortAddress=${p.host.addr}`, 'admin.enableServer=false',
      '4lw.commands.whitelist=srvr,ruok', 'maxClientCnxns=0', 'cnxTimeout=1000', ...servers, '',
    ].join('\n'));
    await writeFile(join(dir, 'log4j.properties'), [
      'log4j.rootLogger=INFO, F', 'log4j.appender.F=org.apache.log4j.FileAppender', `log4j.appender.F.File=${join(dir, 'zookeeper.log')}`,
      'log4j.appender.F.layout=org.apache.log4j.PatternLayout', 'log4j.appender.F.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n', '',
    ].join('\n'));
    nodes.push({ dir, cfg });
  }

  const launch = (i: number): void => {
    const n = nodes[i]!;
    n.proc = on[i]!.spawn('java', ['-Xmx96m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', [n.dir, ...CLASSPATH].join(':'),
      'org.apache.zookeeper.server.quorum.QuorumPeerMain', n.cfg]);
  };
  const running = (i: number): boolean => isRunning(nodes[i]?.proc);
  const kill = async (i: number): Promise<void> => {
    const p = nodes[i]!.proc;
    nodes[i]!.proc = undefined;
    await killProcess(p, 0);
  };
  const waitQuorum = async (timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const modes = await Promise.all(ports.map((p, i) => (running(i) ? srvrMode(p.host, p.client) : Promise.resolve('down'))));
      if (modes.every((m) => m !== undefined) && modes.includes('leader')) return;
      if (Date.now() > deadline) throw new Error(`zookeeper ensemble: no quorum within ${timeoutMs} ms (modes ${modes.join(',')}; logs in ${root})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((_, i) => kill(i)));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (const i of [0, 1, 2]) launch(i);
    await waitQuorum();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    connectString: ports.map((p) => `${p.host.addr}:${p.client}`).join(','),
    clientPorts: ports.map((p) => p.client),
    async leader() {
      const modes = await Promise.all(ports.map((p, i) => (running(i) ? srvrMode(p.host, p.client) : Promise.resolve(undefined))));
      const i = modes.indexOf('leader');
      return i < 0 ? undefined : i;
    },
    kill,
    async start(i, o = {}) {
      if (!running(i)) launch(i);
      if (o.waitServing !== false) await waitQuorum();
    },
    waitQuorum,
    running,
    stop,
  };
}
