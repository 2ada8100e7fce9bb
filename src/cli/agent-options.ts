/**
 * Every option of `dockstack agent` (and of nerve/synapse, which run an agent) in ONE zod schema:
 * each field's type, default, help, flag placeholder and environment variable. The commander
 * options, the `--config FILE` keys and the validation of flags, env and file alike all come from
 * it. Loaded only by the commands that run an agent (zod is not for `--version`).
 */
import * as z from 'zod';
import { describeValue } from '../manifest/issue-format.ts';
import { LOG_LEVELS } from '../log-level.ts';
import { DEFAULT_STATUS_ADDR } from './shared-options.ts';

/** What a field needs besides its type and default: its help, its flag's placeholder (none: a boolean switch), its env variable. */
export interface OptionMeta {
  readonly help: string;
  readonly arg?: string;
  readonly env?: string;
}

export const optionMeta = z.registry<OptionMeta, z.core.$ZodType>();

const opt = <T extends z.ZodType>(schema: T, meta: OptionMeta): T => {
  optionMeta.add(schema as z.ZodType, meta);
  return schema;
};

const text = () => z.string({ error: (iss) => `expected a string, got ${describeValue(iss.input)}` }).min(1, 'expected a non-empty string');
const flag = () => z.boolean({ error: (iss) => `expected true or false, got ${describeValue(iss.input)}` });
// A flag or env value arrives as a string, a config file's as a YAML number: both are accepted, nothing else.
const positiveInt = () =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
    z.number({ error: (iss) => `expected a positive integer, got ${describeValue(iss.input)}` }).int('expected a positive integer').min(1, 'expected a positive integer'),
  );
// --status-allowed-hosts a,b on the command line; a list (or the same comma string) in a config file.
const nameList = () =>
  z
    .union([z.string(), z.array(z.string())], { error: (iss) => `expected a list of host names or a comma-separated string, got ${describeValue(iss.input)}` })
    .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((h) => h.trim()).filter(Boolean));

export const AgentOptions = z
  .object({
    manifests: opt(text().default('manifests'), { arg: 'dir', env: 'DOCKSTACK_MANIFESTS', help: 'directory of Service/Subscription manifests to watch' }),
    registry: opt(text().optional(), { arg: 'url', env: 'DOCKSTACK_REGISTRY', help: 'memory:// | zk://h1:2181,h2:2181/chroot | etcd://h1:2379 | etcds://h1:2379 (TLS) (also from ZK_HOSTS, ETCD_ENDPOINTS; default memory://)' }),
    host: opt(text().optional(), { arg: 'address|interface', env: 'DOCKSTACK_HOST', help: 'address Services register when their spec has none: an address, or an interface (eth0: its first IPv4); default: the local address of the route to the registry' }),
    statusAddr: opt(text().default(DEFAULT_STATUS_ADDR), { arg: 'addr', env: 'DOCKSTACK_STATUS_ADDR', help: 'status API listen address' }),
    statusToken: opt(text().optional(), { arg: 'token', env: 'DOCKSTACK_STATUS_TOKEN', help: 'allow the status API write operations (drain, maintenance) for requests bearing this token' }),
    statusTokenFile: opt(text().optional(), { arg: 'path', help: 'read --status-token from this file' }),
    statusAllowedHosts: opt(nameList().optional(), { arg: 'names', env: 'DOCKSTACK_STATUS_ALLOWED_HOSTS', help: 'comma-separated Host header names the status API serves besides its bind address, localhost and 127.0.0.1 (DNS rebinding guard)' }),
    proxy: opt(z.enum(['haproxy', 'none']).default('haproxy'), { arg: 'kind', help: 'local proxy' }),
    haproxyDir: opt(text().default('.state/haproxy'), { arg: 'dir', env: 'DOCKSTACK_HAPROXY_DIR', help: 'HAProxy state dir (config, sockets)' }),
    haproxyUser: opt(text().optional(), { arg: 'name', env: 'DOCKSTACK_HAPROXY_USER', help: 'when the agent is root, HAProxy workers drop to this user after binding (default: haproxy, if it exists; root keeps root)' }),
    haproxyBin: opt(text().optional(), { arg: 'path', help: 'haproxy binary' }),
    haproxyUpdates: opt(z.enum(['runtime', 'native', 'reload']).default('runtime'), { arg: 'mode', help: 'runtime: membership via the runtime API (O(1) Lua slot command when HAProxy has Lua); native: HAProxy\'s own commands only; reload: reload on every change (baseline)' }),
    accessLog: opt(flag().default(false), { env: 'DOCKSTACK_ACCESS_LOG', help: 'log every connection/request of Subscriptions whose spec.accessLog is unset' }),
    zkAuth: opt(text().optional(), { arg: 'user:pass', env: 'DOCKSTACK_ZK_AUTH', help: 'ZooKeeper digest credentials; our nodes get CREATOR_ALL + world READ ACLs' }),
    zkAuthFile: opt(text().optional(), { arg: 'path', help: 'read --zk-auth from this file (keeps it out of ps)' }),
    sessionTimeout: opt(positiveInt().optional(), { arg: 'ms', help: 'ZooKeeper session timeout' }),
    leaseTtl: opt(positiveInt().optional(), { arg: 'seconds', help: 'etcd lease TTL (default 10)' }),
    etcdPrefix: opt(text().optional(), { arg: 'prefix', help: 'etcd key prefix (default /dockstack)' }),
    etcdUser: opt(text().optional(), { arg: 'user', env: 'ETCD_USER', help: 'etcd user (with --etcd-password)' }),
    etcdPassword: opt(text().optional(), { arg: 'password', env: 'ETCD_PASSWORD', help: 'etcd password' }),
    etcdPasswordFile: opt(text().optional(), { arg: 'path', help: 'read --etcd-password from this file' }),
    etcdCaFile: opt(text().optional(), { arg: 'path', env: 'DOCKSTACK_ETCD_CA_FILE', help: 'etcds:// only: PEM CA certificate(s) to verify etcd with (default: the system\'s)' }),
    etcdCertFile: opt(text().optional(), { arg: 'path', env: 'DOCKSTACK_ETCD_CERT_FILE', help: 'etcds:// only: PEM client certificate (with --etcd-key-file)' }),
    etcdKeyFile: opt(text().optional(), { arg: 'path', env: 'DOCKSTACK_ETCD_KEY_FILE', help: 'etcds:// only: PEM private key of --etcd-cert-file' }),
    resync: opt(positiveInt().optional(), { arg: 'ms', help: 'periodic full resync interval (default 30000: 30 s)' }),
    stateFile: opt(text().optional(), { arg: 'path', env: 'DOCKSTACK_STATE_FILE', help: 'where each Subscription\'s last known backends are kept, served when starting cut off from the registry (default HAPROXY_DIR/last-known-backends.json)' }),
    stateTtl: opt(positiveInt().optional(), { arg: 'seconds', help: 'stored backends older than this are not used (default 86400: 24 h)' }),
    followExternalLinks: opt(flag().default(false), { help: 'follow manifest symlinks whose target is outside --manifests (default: ignored, reported)' }),
    logLevel: opt(z.enum(LOG_LEVELS).default('info'), { arg: 'level', env: 'DOCKSTACK_LOG_LEVEL', help: 'log level' }),
    docker: opt(flag().default(false), { help: 'also register running containers labelled dockstack.service.path/port (Docker events API)' }),
    dockerSocket: opt(text().default('/var/run/docker.sock'), { arg: 'path', env: 'DOCKER_SOCKET', help: 'Docker Engine API socket' }),
  })
  .strict();

export type AgentOptions = z.output<typeof AgentOptions>;
export type AgentOptionKey = keyof AgentOptions;

/** The seed-compatible nerve/synapse commands run an agent of their own manifests: no Docker provider. */
export const SeedAgentOptions = AgentOptions.omit({ docker: true, dockerSocket: true });


/** A field's default (undefined: none) and its choices, read from the schema itself. */
export function fieldInfo(field: z.ZodType): { default?: unknown; choices?: readonly string[] } {
  let inner: z.ZodType = field;
  let dflt: unknown;
  for (;;) {
    if (inner instanceof z.ZodDefault) {
      dflt = inner.def.defaultValue;
      inner = inner.def.innerType as z.ZodType;
    } else if (inner instanceof z.ZodOptional) inner = inner.def.innerType as z.ZodType;
    else break;
  }
  return { ...(dflt !== undefined && { default: dflt }), ...(inner instanceof z.ZodEnum && { choices: inner.options as string[] }) };
}

/** JSON Schema of a --config file (schemas/agent-config.schema.json), for editors: each option's help is its description. */
export function agentConfigJsonSchema(): Record<string, unknown> {
  const json = z.toJSONSchema(AgentOptions, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const meta = optionMeta.get(ctx.zodSchema);
      if (meta) ctx.jsonSchema.description = meta.help;
    },
  }) as Record<string, unknown>;
  return { ...json, $id: 'agent-config.schema.json', title: 'DockStack agent --config file' };
}
