import { Command, Option } from 'commander';
import { UsageError } from '../../errors.ts';
import { LOG_LEVELS, type LogLevel } from '../../log-level.ts';
import type { ManifestSource } from '../../manifest/manifest-source.ts';
import type { Logger } from '../../log.ts';
import { credential } from '../credential-flags.ts';
import { DEFAULT_STATUS_ADDR } from '../status-client.ts';

/** The registry URL: --registry, DOCKSTACK_REGISTRY, the seed's ZK_HOSTS, ETCD_ENDPOINTS, else memory://. */
export function registryUrlFromEnv(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env.DOCKSTACK_REGISTRY) return env.DOCKSTACK_REGISTRY;
  if (env.ZK_HOSTS) return `zk://${env.ZK_HOSTS}`;
  if (env.ETCD_ENDPOINTS) return `etcd://${env.ETCD_ENDPOINTS.replace(/https?:\/\//g, '')}`;
  return 'memory://';
}

const positiveInt = (flag: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${flag}: expected a positive integer, got "${v}"`);
  return Number(v);
};

export interface AgentFlags {
  manifests: string;
  registry?: string;
  host?: string;
  statusAddr: string;
  proxy: 'haproxy' | 'none';
  haproxyDir: string;
  haproxyBin?: string;
  haproxyUser?: string;
  haproxyUpdates: 'runtime' | 'reload';
  accessLog?: boolean;
  zkAuth?: string;
  sessionTimeout?: number;
  leaseTtl?: number;
  etcdPrefix?: string;
  etcdUser?: string;
  etcdPassword?: string;
  resync?: number;
  stateFile?: string;
  stateTtl?: number;
  statusToken?: string;
  zkAuthFile?: string;
  etcdPasswordFile?: string;
  statusTokenFile?: string;
  statusAllowedHosts?: string;
  followExternalLinks?: boolean;
  logLevel: LogLevel;
}

/** Add the agent's flags to `cmd` (shared with the seed-compatible nerve/synapse commands). */
export function withAgentOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--manifests <dir>', 'directory of Service/Subscription manifests to watch').env('DOCKSTACK_MANIFESTS').default('manifests'))
    .addOption(new Option('--registry <url>', 'memory:// | zk://h1:2181,h2:2181/chroot | etcd://h1:2379 (env DOCKSTACK_REGISTRY, ZK_HOSTS, ETCD_ENDPOINTS)'))
    .addOption(new Option('--host <address|interface>', 'address Services register when their spec has none: an address, or an interface (eth0: its first IPv4); default: the local address of the route to the registry').env('DOCKSTACK_HOST'))
    .addOption(new Option('--status-addr <addr>', 'status API listen address').env('DOCKSTACK_STATUS_ADDR').default(DEFAULT_STATUS_ADDR))
    .addOption(new Option('--proxy <kind>', 'local proxy').choices(['haproxy', 'none']).default('haproxy'))
    .addOption(new Option('--haproxy-dir <dir>', 'HAProxy state dir (config, sockets)').env('DOCKSTACK_HAPROXY_DIR').default('.state/haproxy'))
    .addOption(new Option('--haproxy-user <name>', 'when the agent is root, HAProxy workers drop to this user after binding (default: haproxy, if it exists; root keeps root)').env('DOCKSTACK_HAPROXY_USER'))
    .addOption(new Option('--haproxy-bin <path>', 'haproxy binary').default(undefined))
    .addOption(new Option('--access-log', 'log every connection/request of Subscriptions whose spec.accessLog is unset').env('DOCKSTACK_ACCESS_LOG'))
    .addOption(new Option('--haproxy-updates <mode>', 'runtime: membership via the runtime API; reload: reload on every change (baseline)').choices(['runtime', 'reload']).default('runtime'))
    .addOption(new Option('--zk-auth <user:pass>', 'ZooKeeper digest credentials; our nodes get CREATOR_ALL + world READ ACLs').env('DOCKSTACK_ZK_AUTH'))
    .option('--zk-auth-file <path>', 'read --zk-auth from this file (keeps it out of ps)')
    .option('--session-timeout <ms>', 'ZooKeeper session timeout', positiveInt('--session-timeout'))
    .option('--lease-ttl <seconds>', 'etcd lease TTL', positiveInt('--lease-ttl'))
    .option('--etcd-prefix <prefix>', 'etcd key prefix (default /dockstack)')
    .addOption(new Option('--etcd-user <user>').env('ETCD_USER'))
    .addOption(new Option('--etcd-password <password>').env('ETCD_PASSWORD'))
    .option('--etcd-password-file <path>', 'read --etcd-password from this file')
    .option('--resync <ms>', 'periodic full resync interval', positiveInt('--resync'))
    .addOption(new Option('--state-file <path>', 'where each Subscription\'s last known backends are kept, served when starting cut off from the registry (default HAPROXY_DIR/last-known-backends.json)').env('DOCKSTACK_STATE_FILE'))
    .option('--state-ttl <seconds>', 'stored backends older than this are not used (default 86400: 24 h)', positiveInt('--state-ttl'))
    .addOption(new Option('--status-token <token>', 'allow the status API write operations (drain, maintenance) for requests bearing this token').env('DOCKSTACK_STATUS_TOKEN'))
    .option('--follow-external-links', 'follow manifest symlinks whose target is outside --manifests (default: ignored, reported)')
    .option('--status-token-file <path>', 'read --status-token from this file')
    .addOption(new Option('--status-allowed-hosts <names>', 'comma-separated Host header names the status API serves besides its bind address, localhost and 127.0.0.1 (DNS rebinding guard)').env('DOCKSTACK_STATUS_ALLOWED_HOSTS'))
    .addOption(new Option('--log-level <level>').choices([...LOG_LEVELS]).env('DOCKSTACK_LOG_LEVEL').default('info'));
}

/** More manifest sources (seed flags, providers), built with the agent's logger. */
export interface AgentExtras {
  readonly sources?: (log: Logger) => readonly ManifestSource[];
  /** Watch --manifests too (default true). */
  readonly watchManifests?: boolean;
}

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Run an agent until SIGTERM/SIGINT/SIGHUP; deregisters before exiting. */
export async function runAgent(flags: AgentFlags, extras: AgentExtras = {}): Promise<void> {
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
  // Loaded here, not at the top: every other command stays free of pino, prom-client, HAProxy and
  // registry code (test/import-graph.test.ts).
  const [{ createLogger }, { startAgent }] = await Promise.all([import('../../log.ts'), import('../../run-agent.ts')]);
  const log = createLogger(flags.logLevel);
  const zkAuth = credential('--zk-auth', flags.zkAuth, flags.zkAuthFile);
  const etcdPassword = credential('--etcd-password', flags.etcdPassword, flags.etcdPasswordFile);
  const statusToken = credential('--status-token', flags.statusToken, flags.statusTokenFile);
  if (zkAuth !== undefined && !/^[^:\s]+:\S+$/.test(zkAuth)) throw new UsageError('--zk-auth: expected user:password (the value is not shown)');
  if ((flags.etcdUser === undefined) !== (etcdPassword === undefined)) throw new UsageError('--etcd-user and --etcd-password go together');
  const running = await startAgent({
    manifestsDir: flags.manifests,
    registry: {
      url: registryUrlFromEnv(flags.registry),
      ...(zkAuth && { zkAuth }),
      ...(flags.sessionTimeout && { sessionTimeoutMs: flags.sessionTimeout }),
      ...(flags.leaseTtl && { leaseTtlSec: flags.leaseTtl }),
      ...(flags.etcdPrefix && { etcdPrefix: flags.etcdPrefix }),
      ...(flags.etcdUser && etcdPassword && { etcdAuth: { username: flags.etcdUser, password: etcdPassword } }),
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
    ...(flags.statusAllowedHosts && { statusAllowedHosts: flags.statusAllowedHosts.split(',').map((h) => h.trim()).filter(Boolean) }),
    log,
    ...(extras.sources && { extraSources: extras.sources(log) }),
    ...(extras.watchManifests === false && { watchManifests: false }),
  });
  log.info({ signal: await signalled }, 'shutting down');
  await running.stop().catch((err: unknown) => log.error({ err: String(err) }, 'shutdown failed'));
}

export function agentCommand(): Command {
  return withAgentOptions(new Command('agent'))
    .description('watch the manifests directory and reconcile registrations and HAProxy until stopped')
    .option('--docker', 'also register running containers labelled dockstack.service.path/port (Docker events API)')
    .addOption(new Option('--docker-socket <path>', 'Docker Engine API socket').env('DOCKER_SOCKET').default('/var/run/docker.sock'))
    .addHelpText('after', '\nExamples:\n  dockstack agent --manifests manifests --registry mem://\n  ZK_HOSTS=zk1:2181,zk2:2181 dockstack agent --host eth0\n  dockstack agent --registry etcd://127.0.0.1:2379 --status-addr 127.0.0.1:7070\n  dockstack agent --docker --registry zk://127.0.0.1:2181')
    .action(async (flags: AgentFlags & { docker?: boolean; dockerSocket: string }) => {
      if (!flags.docker) return runAgent(flags);
      const { DockerSource } = await import('../../providers/docker/docker-source.ts');
      return runAgent(flags, { sources: (log) => [new DockerSource({ socketPath: flags.dockerSocket, log })] });
    });
}
