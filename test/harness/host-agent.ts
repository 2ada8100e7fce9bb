/**
 * The real `dockstack agent` binary on a simulated host (node started directly, so SIGTERM reaches
 * it), with its manifests and state under one dir, its status API on the host's own loopback.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectView } from '../../src/agent.ts';
import { BIN } from './cli.ts';
import { httpOn } from './net-host.ts';
import type { NsHost } from './netns-hosts.ts';
import { isRunning, killProcess, waitReady } from './process.ts';


export interface HostAgent {
  readonly host: NsHost;
  readonly dir: string;
  /** The agent's stderr so far (bounded), for assertion messages. */
  log(): string;
  /** One object as the agent's status API shows it, or undefined. */
  view(kind: 'services' | 'subscriptions', name: string): Promise<ObjectView | undefined>;
  /** The registry connection state the agent reports (its dockstack_registry_session_state gauge). */
  registryState(): Promise<string | undefined>;
  /** `dockstack ARGS --status-addr ...` run on the host against this agent. */
  cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** SIGTERM (bounded, then SIGKILL) and wait. */
  stop(): Promise<void>;
  /** SIGKILL the agent alone (its detached HAProxy keeps running). */
  kill(): Promise<void>;
  /** Start the agent again with the same flags and dir. */
  restart(): Promise<void>;
  readonly running: () => boolean;
}

/** Write `manifests` (file name → YAML) into DIR/manifests and start an agent on `host`; resolves once its status API answers. */
export async function startHostAgent(host: NsHost, opts: { dir: string; registry: string; manifests: Record<string, string>; args?: readonly string[]; statusPort?: number }): Promise<HostAgent> {
  const STATUS_PORT = opts.statusPort ?? 7070;
  await mkdir(join(opts.dir, 'manifests'), { recursive: true });
  for (const [file, text] of Object.entries(opts.manifests)) await writeFile(join(opts.dir, 'manifests', file), text);
  const args = ['agent', '--manifests', join(opts.dir, 'manifests'), '--registry', opts.registry, '--haproxy-dir', join(opts.dir, 'state', 'haproxy'),
    '--status-addr', `127.0.0.1:${STATUS_PORT}`, '--log-level', 'info', ...(opts.args ?? [])];
  let proc: ChildProcess | undefined;
  let log = '';
  const launch = async (): Promise<void> => {
    const p = host.spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DOCKSTACK_HOST: '' } });
    proc = p;
    p.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-200_000)));
    p.on('exit', (code, sig) => (log += `\n[${host.name} agent exited ${sig ?? code}]\n`));
    try {
      await waitReady(`${host.name} agent`, () => httpOn(host, STATUS_PORT, '/healthz', { host: '127.0.0.1', timeoutMs: 500 }).then((r) => r.status === 200, () => false),
        { proc: p, timeoutMs: 60_000 });
    } catch (err) {
      (err as Error).message += `; its log: ${log.slice(-3000)}`;
      throw err;
    }
  };
  await launch();
  return {
    host,
    dir: opts.dir,
    log: () => log,
    async view(kind, name) {
      const r = await httpOn(host, STATUS_PORT, `/api/v1/${kind}/${name}`, { host: '127.0.0.1' });
      return r.status === 200 ? (JSON.parse(r.body) as ObjectView) : undefined;
    },
    async registryState() {
      const r = await httpOn(host, STATUS_PORT, '/metrics', { host: '127.0.0.1' });
      return /^dockstack_registry_session_state\{[^}]*state="(\w+)"[^}]*\} 1$/m.exec(r.body)?.[1];
    },
    cli: (cliArgs) => host.exec(process.execPath, [BIN, ...cliArgs, '--status-addr', `127.0.0.1:${STATUS_PORT}`]),
    stop: () => killProcess(proc, 8000),
    kill: () => killProcess(proc, 0),
    async restart() {
      await killProcess(proc, 8000);
      await launch();
    },
    running: () => isRunning(proc),
  };
}
