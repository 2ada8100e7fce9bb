/**
 * A real ZooKeeper 3.8 (Debian jars) on an ephemeral loopback port in a fresh temp dir, for one
 * test file. Low minSessionTimeout so expiry tests are quick. stop() kills it and removes the dir.
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopback, type NetHost } from './net-host.ts';
import { startRestartable, waitReady } from './process.ts';

export interface ZooKeeperServer {
  readonly connectString: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stop the server and keep its data (for restart()). */
  kill(): Promise<void>;
  /** Stop and start again on the same port and data dir; sessions survive. */
  restart(): Promise<void>;
  /** Stop the server and remove the temp dir. */
  stop(): Promise<void>;
}

const CLASSPATH = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'];

/** Start ZooKeeper on `opts.on` (default loopback) and wait (bounded) until it answers the `srvr` four-letter word. */
export async function startZooKeeper(opts: { minSessionTimeoutMs?: number; on?: NetHost } = {}): Promise<ZooKeeperServer> {
  const on = opts.on ?? loopback;
  const root = await mkdtemp(join(tmpdir(), 'dockstack-zk-'));
  const confDir = join(root, 'conf');
  const dataDir = join(root, 'data');
  await mkdir(confDir);
  await mkdir(dataDir);
  const port = await on.port();
  const cfg = join(confDir, 'zoo.cfg');
  await writeFile(
    cfg,
    [
      'tickTime=500',
      `minSessionTimeout=${opts.minSessionTimeoutMs ?? 1000}`,
      'maxSessionTimeout=30000',
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      `clientPortAddress=${on.addr}`,
      'admin.enableServer=false',
      '4lw.commands.whitelist=srvr,ruok',
      'maxClientCnxns=0',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(confDir, 'log4j.properties'),
    [
      'log4j.rootLogger=INFO, F',
      'log4j.appender.F=org.apache.log4j.FileAppender',
      `log4j.appender.F.File=${join(root, 'zookeeper.log')}`,
      'log4j.appender.F.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.F.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n',
      '',
    ].join('\n'),
  );
  const server = await startRestartable(
    root,
    () => on.spawn('java', ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', [confDir, ...CLASSPATH].join(':'),
      'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg]),
    (proc) => waitReady(`zookeeper on ${port}`, () => srvrMode(on, port).then((m) => m !== undefined), { proc, hint: `see ${root}/zookeeper.log` }),
  );
  return {
    connectString: `${on.addr}:${port}`,
    port,
    dataDir,
    ...server,
  };
}

/** The server's "Mode:" (standalone, leader, follower), or undefined when it does not serve within 500 ms; ZK 3.8 ignores connections made right after a start. */
export async function srvrMode(on: NetHost, port: number): Promise<string | undefined> {
  let sock;
  try {
    sock = await on.connect(port, on.addr, 500);
  } catch {
    return undefined;
  }
  const s = sock;
  return new Promise((resolve) => {
    let out = '';
    const done = (): void => {
      s.destroy();
      resolve(/^Mode: (\w+)/m.exec(out)?.[1]);
    };
    s.setTimeout(500, done);
    s.on('data', (d) => (out += d.toString()));
    s.on('end', done);
    s.on('error', done);
    s.write('srvr');
  });
}
