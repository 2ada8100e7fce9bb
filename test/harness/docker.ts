/**
 * A private Docker engine for one test file: dockerd (Debian docker.io) with its own data-root,
 * exec-root and socket in a temp dir, no iptables and no bridge (containers use --network host, so
 * all traffic stays on loopback). Also builds the DockStack image from a base imported from this
 * machine's node + haproxy (docker/base-rootfs.sh): no registry is needed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.ts';
import { killProcess } from './process.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DockerEngine {
  /** The engine's API socket path. */
  readonly socket: string;
  /** Run the docker CLI against this engine; rejects on a non-zero exit unless `allowFail`. */
  docker(args: string[], opts?: { stdin?: string; allowFail?: boolean; timeoutMs?: number }): Promise<RunResult>;
  /** Remove every container, stop dockerd (bounded) and remove its directory. */
  stop(): Promise<void>;
}

/** Run a command, capture output, bounded by `timeoutMs`. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    // A command that exits without reading stdin makes this write fail with EPIPE; its exit status says what happened.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Start dockerd; throws (never skips) when the engine is missing or does not come up. */
export async function startDocker(): Promise<DockerEngine> {
  const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p));
  if (!dockerd) throw new Error('starting dockerd: not found in /usr/sbin or /usr/bin (install Debian docker.io)');
  const dir = await mkdtemp(join(tmpdir(), 'dockstack-docker-'));
  const socket = join(dir, 'docker.sock');
  const child: ChildProcess = spawn(
    dockerd,
    [`--data-root=${join(dir, 'data')}`, `--exec-root=${join(dir, 'exec')}`, `--pidfile=${join(dir, 'docker.pid')}`, `--host=unix://${socket}`, '--iptables=false', '--ip-masq=false', '--bridge=none'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  const docker = async (args: string[], opts: { stdin?: string; allowFail?: boolean; timeoutMs?: number } = {}) => {
    const r = await run('docker', args, { env: { DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: '0' }, ...opts });
    if (r.code !== 0 && !opts.allowFail) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r;
  };
  const stop = async () => {
    const ids = (await docker(['ps', '-aq'], { allowFail: true })).stdout.split('\n').filter(Boolean);
    if (ids.length) await docker(['rm', '-f', ...ids], { allowFail: true });
    await killProcess(child);
    // dockerd leaves its default network namespace mounted under exec-root.
    await run('umount', [join(dir, 'exec', 'netns', 'default')]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined); // a busy mount must not fail the suite
  };
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`dockerd exited ${child.exitCode}: ${log}`);
      await docker(['version', '--format', '{{.Server.Version}}']);
    }, { timeoutMs: 30_000, intervalMs: 200, message: 'dockerd did not answer' });
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, docker, stop };
}

/** Import the base from this machine's node + haproxy and build the image as `tag`; returns seconds taken. */
export async function buildImage(engine: DockerEngine, tag: string): Promise<{ baseSeconds: number; buildSeconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'dockstack-base-'));
  try {
    const t0 = Date.now();
    const tar = join(dir, 'base.tar');
    const made = await run('bash', [join(REPO, 'docker/base-rootfs.sh'), tar]);
    if (made.code !== 0) throw new Error(`docker/base-rootfs.sh failed: ${made.stderr}`);
    await engine.docker(['import', tar, 'dockstack-base:local']);
    const t1 = Date.now();
    await engine.docker(['build', '-q', '--build-arg', 'BASE=dockstack-base:local', '-t', tag, REPO], { timeoutMs: 300_000 });
    return { baseSeconds: (t1 - t0) / 1000, buildSeconds: (Date.now() - t1) / 1000 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
