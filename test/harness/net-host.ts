/**
 * Where a test server runs: this machine's loopback (the default) or a simulated host in a network
 * namespace (netns-hosts.ts). Server harnesses take a NetHost so the same ZooKeeper, etcd and
 * MariaDB setup serves both; the test process reaches a namespaced host only through connect().
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { request } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { freePort } from './ports.ts';
import { spawnServer } from './process.ts';

export interface NetHost {
  /** "loopback", "host1", ... */
  readonly name: string;
  /** The address servers on this host bind and others reach it at. */
  readonly addr: string;
  /** A port free on `addr`. */
  port(): Promise<number>;
  /** Spawn `cmd` on this host; SIGKILLed if the test process exits first. */
  spawn(cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** A TCP connection made from this host to `host` (default: this host's addr) and `port`; rejects within `timeoutMs`. */
  connect(port: number, host?: string, timeoutMs?: number): Promise<Socket>;
}

/** This machine's loopback: ephemeral ports, processes spawned directly. */
export const loopback: NetHost = {
  name: 'loopback',
  addr: '127.0.0.1',
  port: () => freePort(),
  spawn: (cmd, args, opts) => spawnServer(cmd, args, opts),
  connect: (port, host = '127.0.0.1', timeoutMs = 2000) =>
    new Promise((resolve, reject) => {
      const sock = tcpConnect(port, host);
      const timer = setTimeout(() => sock.destroy(new Error(`connect ${host}:${port}: timed out after ${timeoutMs} ms`)), timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(sock);
      });
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    }),
};

/** An HTTP request made from `on` to `port` on its own address (or `opts.host`), bounded; resolves with status and body. */
export async function httpOn(on: NetHost, port: number, path: string, opts: { method?: string; body?: string; timeoutMs?: number; host?: string } = {}): Promise<{ status: number; body: string }> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const host = opts.host ?? on.addr;
  const sock = await on.connect(port, host, timeoutMs);
  return new Promise((resolve, reject) => {
    const req = request({ createConnection: () => sock, path, method: opts.method ?? 'GET', host, port, timeout: timeoutMs, headers: opts.body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
