import { spawn } from 'node:child_process';
import { loopback, type NetHost } from './net-host.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { eventually } from './eventually.ts';
import { killProcess } from './process.ts';

/** A throwaway MariaDB server with the passwordless `haproxy_check` user (no grants). */
export interface MariaDBServer {
  readonly host: string;
  readonly port: number;
  /** Kill the server (bounded) and remove its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Run one statement as root (passwordless root@127.0.0.1). */
  query(sql: string): Promise<unknown>;
}

// Small and fast: no binlog, tiny buffer pool and redo log, no DNS, no buffer-pool dump on exit.
const FAST = [
  '--skip-name-resolve',
  '--skip-log-bin',
  '--innodb-buffer-pool-size=8M',
  '--innodb-log-file-size=4M',
  '--innodb-buffer-pool-dump-at-shutdown=OFF',
  '--innodb-buffer-pool-load-at-startup=OFF',
];

/** Initialise a datadir in a fresh temp dir and start mariadbd on `opts.on` (default: an ephemeral loopback port). */
export async function startMariaDB(opts: { on?: NetHost; port?: number } = {}): Promise<MariaDBServer> {
  const on = opts.on ?? loopback;
  const dir = await mkdtemp(join(tmpdir(), 'dockstack-mariadb-'));
  const host = on.addr;
  const datadir = join(dir, 'data');
  try {
    // --no-defaults first, or Debian's /etc/mysql config takes over
    await run('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db', `--tmpdir=${dir}`, ...FAST]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const port = opts.port ?? (await on.port());
  // On a simulated host clients arrive from its address, not 127.0.0.1: let root in from the
  // private subnet (it exists only inside the test's namespaces).
  const initFile = join(dir, 'init.sql');
  if (on !== loopback) await writeFile(initFile, "CREATE USER IF NOT EXISTS 'root'@'%';\nGRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;\n");
  const child = on.spawn('/usr/sbin/mariadbd', [
    '--no-defaults',
    '--user=root',
    `--datadir=${datadir}`,
    `--socket=${join(dir, 'mysqld.sock')}`,
    `--pid-file=${join(dir, 'mysqld.pid')}`,
    `--log-error=${join(dir, 'error.log')}`,
    `--port=${port}`,
    `--bind-address=${host}`,
    // Its own tmpdir: two servers bootstrapping at once in the shared /tmp collided on temp tables.
    `--tmpdir=${dir}`,
    ...(on !== loopback ? [`--init-file=${initFile}`] : []),
    ...FAST,
  ]);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= killProcess(child).then(() => rm(dir, { recursive: true, force: true })));
  const query = async (sql: string): Promise<unknown> => {
    const conn = await mysql.createConnection({ host, port, user: 'root', connectTimeout: 5000, ...(on !== loopback && { stream: await on.connect(port, host, 5000) }) });
    try {
      const [rows] = await conn.query(sql);
      return rows;
    } finally {
      await conn.end(); // QUIT, so the server does not count an aborted client
    }
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`mariadbd exited ${child.exitCode} (see ${dir}/error.log)`);
        await query('SELECT 1');
      },
      { timeoutMs: 30_000, intervalMs: 100, message: 'mariadbd ready' },
    );
    await query("CREATE USER 'haproxy_check'@'%'");
    await query("CREATE USER 'haproxy_check'@'localhost'");
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, port, stop, query };
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer): void => void (output = (output + b.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} failed (${signal ?? code}): ${output}`));
    });
  });
}
