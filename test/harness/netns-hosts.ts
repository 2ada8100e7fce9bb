/**
 * Simulated hosts for fleet tests: each host is a Linux network namespace whose `eth0` is one end
 * of a veth pair; the other ends hang on a bridge inside a switch namespace of its own. Addresses
 * come from one private /24 that exists only inside these namespaces; nothing is created in the
 * root namespace and no packet can leave. Faults are iptables DROP rules inside a host (a partition
 * or a one-way cut, silent: no RST) or its link set down.
 *
 * The test process (root namespace) reaches a host through a gateway process on a Unix socket
 * (netns-helper.ts), so every TCP connection a test makes starts on the host it names.
 *
 * Cleanup: close() SIGKILLs every process in every namespace and deletes them; an exit hook does
 * the same synchronously if the test process dies; names carry the creating pid, so a later run
 * removes the leftovers of one that was SIGKILLed.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetHost } from './net-host.ts';
import { killProcess, waitReady } from './process.ts';

const PREFIX = 'dsfleet-';
/** Not routed anywhere: it exists only on the hosts' eth0 and the switch's bridge. */
export const SUBNET = '10.213.7';
const HELPER = fileURLToPath(new URL('./netns-helper.ts', import.meta.url));
const TSX = ['--import', 'tsx'];

export interface CutOptions {
  /** "both" (default): a partition; "in": drop what the peers send; "out": drop what we send them. */
  direction?: 'both' | 'in' | 'out';
}

export interface NsHost extends NetHost {
  readonly ns: string;
  /** Cut this host off from `peers` (iptables inside this host); heal() removes every cut. */
  cut(peers: readonly { addr: string }[], opts?: CutOptions): Promise<void>;
  heal(): Promise<void>;
  /** eth0 down or up: the host drops off the switch. */
  link(up: boolean): Promise<void>;
  /** SIGKILL every process in this host at once (host death), including its gateway. */
  killAll(): Promise<void>;
  /** After killAll(): start the gateway again, as if the host had rebooted (network config is kept). */
  revive(): Promise<void>;
  /** A TCP backend on this host's address (or `addr`) that greets each connection with "NAME\n" (see netns-helper.ts). */
  greet(name: string, port: number, addr?: string): Promise<ChildProcess>;
  /** The greeting of a fresh connection from this host to `host`:`port` (bounded). */
  greeting(port: number, host?: string, timeoutMs?: number): Promise<string>;
  /** Run `cmd` on this host and collect its output (bounded). */
  exec(cmd: string, args: readonly string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
}

export interface Fleet {
  readonly hosts: readonly NsHost[];
  /** A scratch dir removed by close(). */
  readonly dir: string;
  close(): Promise<void>;
}

/** Create `n` hosts (host1..hostN at SUBNET.1..N) on one switch. */
export async function createFleet(n: number): Promise<Fleet> {
  removeLeftovers();
  const tag = `${PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  const sw = `${tag}-sw`;
  const names = [sw];
  const dir = await mkdtemp(join(tmpdir(), `${tag}-`));
  const hosts: NsHostImpl[] = [];
  const reap = (): void => removeNamespaces(names);
  process.once('exit', reap);
  const close = async (): Promise<void> => {
    process.off('exit', reap);
    await Promise.all(hosts.map((h) => h.killAll()));
    removeNamespaces(names);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    ip('netns', 'add', sw);
    ip('-n', sw, 'link', 'set', 'lo', 'up');
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', sw, 'link', 'set', 'br0', 'up');
    for (let i = 1; i <= n; i++) {
      const ns = `${tag}-h${i}`;
      names.push(ns);
      ip('netns', 'add', ns);
      // Both ends are created from inside namespaces: nothing ever exists in the root namespace.
      ip('-n', sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `${SUBNET}.${i}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      for (const args of [['-N', 'DSCUT'], ['-A', 'INPUT', '-j', 'DSCUT'], ['-A', 'OUTPUT', '-j', 'DSCUT']]) nsExec(ns, 'iptables', ['-w', ...args]);
      const h = new NsHostImpl(`host${i}`, ns, `${SUBNET}.${i}`, join(dir, `h${i}.sock`));
      hosts.push(h);
      await h.startGateway();
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { hosts, dir, close };
}

class NsHostImpl implements NsHost {
  private nextPort = 20_000;
  private gateway: ChildProcess | undefined;

  constructor(readonly name: string, readonly ns: string, readonly addr: string, private readonly gatewayPath: string) {}

  async port(): Promise<number> {
    return this.nextPort++;
  }

  /** `ip netns exec` execs the command, so the child's pid is the server's; close() reaps it with the namespace. */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], { stdio: 'ignore', ...opts });
  }

  /** Start a netns-helper process here; resolves once it prints "ready" (bounded). */
  async helper(args: readonly string[]): Promise<ChildProcess> {
    const p = this.spawn(process.execPath, [...TSX, HELPER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitReady(`${this.name}: netns-helper ${args.join(' ')}`, async () => out.includes('ready'), { proc: p, timeoutMs: 20_000, intervalMs: 20, hint: out });
    } catch (err) {
      await killProcess(p, 0);
      throw err;
    }
    return p;
  }

  greet(name: string, port: number, addr = this.addr): Promise<ChildProcess> {
    return this.helper(['greet', name, addr, String(port)]);
  }

  async greeting(port: number, host = this.addr, timeoutMs = 2000): Promise<string> {
    const sock = await this.connect(port, host, timeoutMs);
    return new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => done(new Error(`no greeting from ${host}:${port} via ${this.name} within ${timeoutMs} ms`)), timeoutMs);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(buf.slice(0, buf.indexOf('\n')));
      };
      sock.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) done();
      });
      sock.on('error', (err) => done(err));
      sock.on('close', () => done(new Error(`connection to ${host}:${port} via ${this.name} closed before a greeting`)));
    });
  }

  async revive(): Promise<void> {
    await this.startGateway();
  }

  async startGateway(): Promise<void> {
    this.gateway = await this.helper(['gateway', this.gatewayPath]);
  }

  connect(port: number, host = this.addr, timeoutMs = 2000): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.gatewayPath);
      let head = '';
      const fail = (why: string): void => {
        clearTimeout(timer);
        sock.destroy();
        reject(new Error(`connect from ${this.name} to ${host}:${port}: ${why}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      sock.once('error', (err) => fail(err.message));
      sock.once('close', () => fail('closed'));
      const onData = (d: Buffer): void => {
        head += d.toString('latin1');
        const nl = head.indexOf('\n');
        if (nl < 0) return;
        sock.off('data', onData);
        sock.pause();
        if (head[0] !== '+') return fail(head.slice(1, nl) || 'refused');
        clearTimeout(timer);
        sock.removeAllListeners('error');
        sock.removeAllListeners('close');
        const rest = head.slice(nl + 1);
        if (rest) sock.unshift(Buffer.from(rest, 'latin1'));
        resolve(sock);
        // Paused so nothing is lost before the caller attaches its listeners (synchronously after
        // the await, or on the next tick for http); an explicit pause() is not undone by 'data'.
        setImmediate(() => sock.resume());
      };
      sock.on('data', onData);
      sock.write(`${host} ${port}\n`);
    });
  }

  async cut(peers: readonly { addr: string }[], opts: CutOptions = {}): Promise<void> {
    const dir = opts.direction ?? 'both';
    // Silent DROP, no RST: the hardest case for a client (a REJECT in OUTPUT left local SYNs hanging here anyway).
    const target = ['-j', 'DROP'];
    for (const p of peers) {
      if (dir !== 'out') nsExec(this.ns, 'iptables', ['-w', '-A', 'DSCUT', '-s', p.addr, ...target]);
      if (dir !== 'in') nsExec(this.ns, 'iptables', ['-w', '-A', 'DSCUT', '-d', p.addr, ...target]);
    }
  }

  async heal(): Promise<void> {
    nsExec(this.ns, 'iptables', ['-w', '-F', 'DSCUT']);
  }

  async link(up: boolean): Promise<void> {
    ip('-n', this.ns, 'link', 'set', 'eth0', up ? 'up' : 'down');
  }

  async killAll(): Promise<void> {
    killNamespace(this.ns);
    this.gateway = undefined;
  }

  exec(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
    });
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function nsExec(ns: string, cmd: string, args: readonly string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** SIGKILL every process in `ns` and wait (bounded) until none is left. */
function killNamespace(ns: string): void {
  for (let round = 0; round < 50; round++) {
    let pids: number[];
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return; // no such namespace
    }
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    execFileSync('sleep', ['0.05']); // synchronous on purpose: this also runs from the exit hook
  }
}

/** Kill the processes of `names` and delete the namespaces (the switch's bridge and veths go with them). */
function removeNamespaces(names: readonly string[]): void {
  for (const ns of names) killNamespace(ns);
  for (const ns of names) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // never created, or already gone
    }
  }
}

/** Namespaces of an earlier run whose process no longer exists (it was SIGKILLed before its cleanup). */
function removeLeftovers(): void {
  let list: string;
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  } catch {
    return;
  }
  const stale = list.split('\n').map((l) => l.split(' ')[0] ?? '').filter((name) => {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    return m !== null && !alive(Number(m[1])); // a live creator is another test file still running
  });
  removeNamespaces(stale);
  // ...and their scratch dirs (sockets, agent state).
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
