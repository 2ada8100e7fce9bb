/**
 * A real ZooKeeper 3.8 (Debian jars) on an ephemeral loopback port in a fresh temp dir, for one
 * test file. Low minSessionTimeout so expiry tests are quick. stop() kills it and removes the dir.
 */
import { connect } from 'node:net';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { spawnServer, startRestartable, waitReady } from './process.ts';

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

/** Start ZooKeeper and wait (bounded) until it answers the `srvr` four-letter word. */
export async function startZooKeeper(opts: { minSessionTimeoutMs?: number } = {}): Promise<ZooKeeperServer> {
  const root = await mkdtemp(join(tmpdir(), 'dockstack-zk-'));
  const confDir = join(root, 'conf');
  const dataDir = join(root, 'data');
  await mkdir(confDir);
  await mkdir(dataDir);
  const port = await freePort();
  const cfg = join(confDir, 'zoo.cfg');
  await writeFile(
    cfg,
    [
      'tickTime=500',
      `minSessionTimeout=${opts.minSessionTimeoutMs ?? 1000}`,
      'maxSessionTimeout=30000',
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
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
    () => spawnServer('java', ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', [confDir, ...CLASSPATH].join(':'),
      'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg]),
    (proc) => waitReady(`zookeeper on ${port}`, () => srvrAnswers(port), { proc, hint: `see ${root}/zookeeper.log` }),
  );
  return {
    connectString: `127.0.0.1:${port}`,
    port,
    dataDir,
    ...server,
  };
}

/** True when the server answers `srvr` in time; ZK 3.8 ignores connections made right after a start. */
function srvrAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('connect', () => sock.write('srvr'));
    sock.on('data', (d) => (out += d.toString()));
    sock.on('end', () => done(out.includes('Mode:')));
    sock.on('error', () => done(false));
  });
}
