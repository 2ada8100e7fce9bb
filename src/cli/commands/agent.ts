import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { ManifestSource } from '../../manifest/manifest-source.ts';
import type { Logger } from '../../log.ts';
import type { AgentOptions } from '../agent-options.ts';
import type { ResolvedOptions } from '../agent-config.ts';
import { tuneAgentHeap } from '../agent-heap.ts';
import { credential, credentialFile } from '../credential-flags.ts';

/** What an agent runs with: every option but the Docker provider's (nerve and synapse have none). */
export type RunOptions = Omit<AgentOptions, 'docker' | 'dockerSocket'>;

const pending = new WeakMap<Command, () => Promise<void>>();

/**
 * Give `cmd` the agent's options, generated from the schema (agent-options.ts). They are added when
 * the command is about to run or show its help (main.ts's preSubcommand hook, addLazyOptions), so
 * that zod loads only for the commands that run an agent.
 */
export function withAgentOptions(cmd: Command, options: 'agent' | 'seed'): Command {
  pending.set(cmd, async () => {
    const [{ addAgentOptions }, schemas] = await Promise.all([import('../agent-config.ts'), import('../agent-options.ts')]);
    addAgentOptions(cmd, options === 'agent' ? schemas.AgentOptions : schemas.SeedAgentOptions);
  });
  return cmd;
}

/** Add the options withAgentOptions deferred, once. */
export async function addLazyOptions(cmd: Command): Promise<void> {
  const add = pending.get(cmd);
  pending.delete(cmd);
  await add?.();
}

/** The seed commands' options in force: flags, environment, --config FILE and defaults, validated. */
export async function seedAgentOptions(cmd: Command): Promise<ResolvedOptions<RunOptions>> {
  const [{ resolveAgentOptions }, { SeedAgentOptions }] = await Promise.all([import('../agent-config.ts'), import('../agent-options.ts')]);
  return resolveAgentOptions(cmd, SeedAgentOptions);
}

/** More manifest sources (seed flags, providers), built with the agent's logger. */
export interface AgentExtras {
  readonly sources?: (log: Logger) => readonly ManifestSource[];
  /** Watch --manifests too (default true). */
  readonly watchManifests?: boolean;
}

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * Refuse an output path (--haproxy-dir, --state-file) inside the watched --manifests directory:
 * the watcher would read the agent's own files as manifests. A path the watcher ignores (under a
 * dot-directory, by the same isIgnoredName rule) is allowed.
 */
async function checkOutsideManifests(manifests: string, paths: readonly [flag: string, path: string | undefined][]): Promise<void> {
  // Loaded here: a top-level import put manifest code on --version/--help/get (test/import-graph.test.ts).
  const { isIgnoredName } = await import('../../manifest/manifest-files.ts');
  const root = resolve(manifests);
  for (const [flag, path] of paths) {
    if (path === undefined) continue;
    const rel = relative(root, resolve(path));
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) continue;
    if (rel.split(sep).some((part) => part !== '' && isIgnoredName(part))) continue;
    throw new UsageError(`${flag} ${path} is inside --manifests ${manifests}: the agent would read its own files as manifests`, {
      hint: `put it outside --manifests, or under a dot-directory such as ${join(manifests, '.haproxy')}`,
    });
  }
}

/** Run an agent until SIGTERM/SIGINT/SIGHUP; deregisters before exiting. */
export async function runAgent(flags: RunOptions, extras: AgentExtras = {}): Promise<void> {
  if (extras.watchManifests !== false) await checkOutsideManifests(flags.manifests, [['--haproxy-dir', flags.haproxyDir], ['--state-file', flags.stateFile]]);
  const untune = tuneAgentHeap();
  // Listen before starting: a signal during the start (even before the status API is up) must
  // stop the agent cleanly once started, not kill it half-way.
  // Node's default for SIGHUP is to die on the spot: no deregistration, HAProxy left unmanaged.
  // A closed terminal or a supervisor's stop means "stop", so SIGHUP is handled as SIGTERM.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
      for (const s of STOP_SIGNALS) process.once(s, () => process.exit(130)); // a second signal forces the exit
      resolve(sig);
    };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
  });
  const zkAuth = credential('--zk-auth', flags.zkAuth, flags.zkAuthFile);
  const etcdPassword = credential('--etcd-password', flags.etcdPassword, flags.etcdPasswordFile);
  const statusToken = credential('--status-token', flags.statusToken, flags.statusTokenFile);
  if (zkAuth !== undefined && !/^[^:\s]+:\S+$/.test(zkAuth)) throw new UsageError('--zk-auth: expected user:password (the value is not shown)');
  if ((flags.etcdUser === undefined) !== (etcdPassword === undefined)) throw new UsageError('--etcd-user and --etcd-password go together');
  if ((flags.etcdCertFile === undefined) !== (flags.etcdKeyFile === undefined)) throw new UsageError('--etcd-cert-file and --etcd-key-file go together');
  const etcdTls = { ca: credentialFile('--etcd-ca-file', flags.etcdCaFile), cert: credentialFile('--etcd-cert-file', flags.etcdCertFile), key: credentialFile('--etcd-key-file', flags.etcdKeyFile) };
  // The status API listens before the rest of the agent loads, so /healthz answers while it does.
  // Loaded here, not at the top: every other command stays free of pino, prom-client, HAProxy and
  // registry code (test/import-graph.test.ts).
  const { statusServerAt } = await import('../../server/status-server.ts');
  const statusServer = statusServerAt(flags.statusAddr, { token: statusToken, allowedHosts: flags.statusAllowedHosts });
  await statusServer.start();
  const [{ createLogger }, { startAgent }] = await Promise.all([import('../../log.ts'), import('../../run-agent.ts')]).catch(async (err: unknown) => {
    await statusServer.close();
    throw err;
  });
  const log = createLogger(flags.logLevel);
  const running = await startAgent({
    statusServer,
    manifestsDir: flags.manifests,
    registry: {
      url: flags.registry ?? 'memory://',
      ...(zkAuth && { zkAuth }),
      ...(flags.sessionTimeout && { sessionTimeoutMs: flags.sessionTimeout }),
      ...(flags.leaseTtl && { leaseTtlSec: flags.leaseTtl }),
      ...(flags.etcdPrefix && { etcdPrefix: flags.etcdPrefix }),
      ...(flags.etcdUser && etcdPassword && { etcdAuth: { username: flags.etcdUser, password: etcdPassword } }),
      ...((etcdTls.ca || etcdTls.cert) && { etcdTls: { ...(etcdTls.ca && { ca: etcdTls.ca }), ...(etcdTls.cert && etcdTls.key && { cert: etcdTls.cert, key: etcdTls.key }) } }),
    },
    ...(flags.host && { host: flags.host }),
    statusAddr: flags.statusAddr,
    proxy: flags.proxy,
    haproxyDir: flags.haproxyDir,
    ...(flags.haproxyBin && { haproxyBin: flags.haproxyBin }),
    ...(flags.haproxyUser && { haproxyUser: flags.haproxyUser }),
    haproxyUpdates: flags.haproxyUpdates,
    ...(flags.accessLog && { accessLog: true }),
    ...(flags.resync && { resyncMs: flags.resync }),
    ...(flags.stateFile && { stateFile: flags.stateFile }),
    ...(flags.stateTtl && { stateTtlMs: flags.stateTtl * 1000 }),
    ...(statusToken && { statusToken }),
    ...(flags.followExternalLinks && { followExternalLinks: true }),
    ...(flags.statusAllowedHosts && { statusAllowedHosts: flags.statusAllowedHosts }),
    log,
    ...(extras.sources && { extraSources: extras.sources(log) }),
    ...(extras.watchManifests === false && { watchManifests: false }),
  });
  log.info({ signal: await signalled }, 'shutting down');
  await running.stop().catch((err: unknown) => log.error({ err: String(err) }, 'shutdown failed'));
  untune();
}

export function agentCommand(): Command {
  return withAgentOptions(new Command('agent'), 'agent')
    .description('watch the manifests directory and reconcile registrations and HAProxy until stopped')
    .addHelpText('after', '\nExamples:\n  dockstack agent --manifests manifests --registry mem://\n  ZK_HOSTS=zk1:2181,zk2:2181 dockstack agent --host eth0\n  dockstack agent --registry etcd://127.0.0.1:2379 --status-addr 127.0.0.1:7070\n  dockstack agent --config /etc/dockstack/agent.yaml --log-level debug\n  dockstack agent --docker --registry zk://127.0.0.1:2181')
    .action(async (_flags: unknown, cmd: Command) => {
      const [{ resolveAgentOptions }, { AgentOptions }] = await Promise.all([import('../agent-config.ts'), import('../agent-options.ts')]);
      const { docker, dockerSocket, ...options } = (await resolveAgentOptions(cmd, AgentOptions)).options;
      if (!docker) return runAgent(options);
      const { DockerSource } = await import('../../providers/docker/docker-source.ts');
      return runAgent(options, { sources: (log) => [new DockerSource({ socketPath: dockerSocket, log })] });
    });
}
