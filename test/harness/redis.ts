import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
import { freePort } from './ports.ts';
import { killProcess } from './process.ts';

/** A throwaway redis-server on an ephemeral loopback port. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** Kill the server (bounded) and remove its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Start redis-server (no persistence) in a fresh temp dir; resolves once it answers PING. */
export async function startRedis(opts: { password?: string } = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'dockstack-redis-'));
  const host = '127.0.0.1';
  const port = await freePort(host);
  const args = ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  if (opts.password !== undefined) args.push('--requirepass', opts.password);
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (b: Buffer): void => void (output = (output + b.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = once(async () => {
    await killProcess(child);
    await rm(dir, { recursive: true, force: true });
  });
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}: ${output}`);
        const reply = await rawCommand(host, port, 'PING');
        if (!reply.startsWith('+PONG') && !reply.startsWith('-NOAUTH')) throw new Error(`PING replied ${reply}`);
      },
      { timeoutMs: 15_000, intervalMs: 50, message: 'redis-server ready' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, port, stop };
}

/** Send one inline command and return the first reply line (bounded by a 1 s timeout). */
function rawCommand(host: string, port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000, () => socket.destroy(new Error('timed out')));
    let data = '';
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (b) => {
      data += b.toString();
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.split('\r\n')[0] ?? '');
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed without a reply')));
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
