/**
 * The seed's CLI (its nerve/synapse wrapper) turned into manifests: env SERVICE, SERVICE_PORT,
 * SERVICE_HOST, ZK_HOSTS, ETCD_ENDPOINTS and the --tcp/--http/--mysql/--redis flags. Pure: flags
 * and env in, manifest documents out; every bad value is one UsageError naming it and the form.
 */
import * as z from 'zod';
import { UsageError } from '../errors.ts';
import { etcdUrlFromEndpoints } from '../registry/create-registry.ts';
import { CHECK_USER_RE, HTTP_PATH_RE, isValidHost, NAME_RE, parseHostPort, REGISTRY_PATH_RE } from '../manifest/schema.ts';
import { serviceDoc, subscriptionDoc, type CheckInput, type ServiceInput, type SubscriptionInput } from '../providers/manifest-docs.ts';


export interface NerveFlags {
  tcp?: boolean;
  http?: string;
  mysql?: string;
  redis?: boolean;
}

export interface RegistryFlags {
  zk?: boolean;
  etcd?: boolean;
}

/** `--zk` → zk://$ZK_HOSTS, `--etcd` → etcd://$ETCD_ENDPOINTS; neither → undefined (the agent's usual lookup). */
export function seedRegistryUrl(flags: RegistryFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (flags.zk && flags.etcd) throw new UsageError('--zk and --etcd: choose one registry');
  if (flags.zk) {
    const hosts = env.ZK_HOSTS ?? '';
    const [list = '', chroot] = hosts.split(/(?=\/)/, 2);
    if (!list.split(',').every((h) => parseHostPort(h)) || (chroot !== undefined && !REGISTRY_PATH_RE.test(chroot)))
      throw new UsageError(`ZK_HOSTS: expected host:port[,host:port...][/chroot], got "${hosts}"`, { hint: 'e.g. ZK_HOSTS=zk1:2181,zk2:2181' });
    return `zk://${hosts}`;
  }
  if (flags.etcd) {
    const raw = env.ETCD_ENDPOINTS ?? '';
    const endpoints = raw.replace(/https?:\/\//g, '');
    if (!endpoints.split(',').every((h) => parseHostPort(h.replace(/\/$/, ''))))
      throw new UsageError(`ETCD_ENDPOINTS: expected host:port[,host:port...], got "${raw}"`, { hint: 'e.g. ETCD_ENDPOINTS=http://etcd1:2379' });
    return etcdUrlFromEndpoints(raw);
  }
  return undefined;
}

/** The registry path from the seed's form: `path/test` → `/path/test`. */
export function seedPath(what: string, value: string): string {
  const path = value.startsWith('/') ? value : `/${value}`;
  if (!REGISTRY_PATH_RE.test(path)) throw new UsageError(`${what}: expected a registry path like path/test (segments of A-Z a-z 0-9 . _ -, not . or ..), got "${value}"`);
  return path;
}

export function seedPort(what: string, value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new UsageError(`${what}: expected a port 1–65535, got "${value}"`);
  return Number(value);
}

function seedName(what: string, value: string): string {
  if (!NAME_RE.test(value)) throw new UsageError(`${what}: expected a name of lowercase letters, digits, '-', '_' or '.' (at most 63), got "${value}"`);
  return value;
}

/** The one Service the seed's `nerve` registers, from its flags and SERVICE/SERVICE_PORT/SERVICE_HOST. */
export function nerveService(flags: NerveFlags, env: NodeJS.ProcessEnv): ServiceInput {
  if (env.SERVICE === undefined || env.SERVICE === '') throw new UsageError('SERVICE is not set: expected SERVICE=path/test (the registry path)');
  if (env.SERVICE_PORT === undefined || env.SERVICE_PORT === '') throw new UsageError('SERVICE_PORT is not set: expected SERVICE_PORT=3306 (the port to register)');
  const path = seedPath('SERVICE', env.SERVICE);
  const port = seedPort('SERVICE_PORT', env.SERVICE_PORT);
  const host = env.SERVICE_HOST || undefined;
  if (host !== undefined && !isValidHost(host)) throw new UsageError(`SERVICE_HOST: expected an IP address or hostname, got "${host}"`);
  const derived = path.slice(path.lastIndexOf('/') + 1).toLowerCase().replace(/[^a-z0-9._-]/g, '-');
  const name = env.SERVICE_NAME ? seedName('SERVICE_NAME', env.SERVICE_NAME) : derived;
  if (!NAME_RE.test(name)) throw new UsageError(`SERVICE: cannot derive a Service name from "${env.SERVICE}"`, { hint: 'set SERVICE_NAME=<name>' });
  return serviceDoc(name, { path, ...(host && { host }), port, checks: [nerveCheck(flags)] });
}

function nerveCheck(flags: NerveFlags): CheckInput {
  const given = [flags.tcp && '--tcp', flags.http !== undefined && '--http', flags.mysql !== undefined && '--mysql', flags.redis && '--redis'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(', ')}: choose one health check`);
  if (flags.http !== undefined) {
    if (!HTTP_PATH_RE.test(flags.http)) throw new UsageError(`--http: expected an absolute URL path like /health, got "${flags.http}"`);
    return { type: 'http', path: flags.http };
  }
  if (flags.mysql !== undefined) {
    if (!CHECK_USER_RE.test(flags.mysql)) throw new UsageError(`--mysql: expected a check user name of A-Z a-z 0-9 _ . -, got "${flags.mysql}"`);
    return { type: 'mysql', user: flags.mysql };
  }
  return flags.redis ? { type: 'redis' } : { type: 'tcp' };
}

export interface SynapseFlags {
  mysql?: string[];
  tcp?: string[];
  http?: string[];
}

const FORMS = { mysql: 'NAME:PATH:PORT:CHECKUSER', tcp: 'NAME:PATH:PORT', http: 'NAME:PATH:PORT[:CHECKPATH]' } as const;
const EXAMPLES = { mysql: 'service1:path/test:3306:haproxy_check', tcp: 'cache:services/cache:6380', http: 'web:services/web:8080:/health' } as const;

/** One Subscription per --mysql/--tcp/--http spec, listening on `address`:PORT. */
export function synapseSubscriptions(flags: SynapseFlags, address: string): SubscriptionInput[] {
  if (!isValidHost(address)) throw new UsageError(`--listen-address: expected an IP address or hostname, got "${address}"`);
  const out: SubscriptionInput[] = [];
  for (const type of ['mysql', 'tcp', 'http'] as const) {
    for (const value of flags[type] ?? []) {
      const parts = value.split(':');
      const [rawName = '', rawPath = '', rawPort = '', extra] = parts;
      const ok = type === 'mysql' ? parts.length === 4 : type === 'tcp' ? parts.length === 3 : parts.length === 3 || parts.length === 4;
      if (!ok || !rawName || !rawPath || !rawPort) throw new UsageError(`--${type}: expected ${FORMS[type]}, got "${value}"`, { hint: `e.g. --${type} ${EXAMPLES[type]}` });
      const name = seedName(`--${type} ${value}: NAME`, rawName);
      const service = seedPath(`--${type} ${value}: PATH`, rawPath);
      const port = seedPort(`--${type} ${value}: PORT`, rawPort);
      if (type === 'mysql' && !CHECK_USER_RE.test(extra ?? '')) throw new UsageError(`--mysql ${value}: CHECKUSER: expected a user name of A-Z a-z 0-9 _ . -, got "${extra}"`);
      if (type === 'http' && extra !== undefined && !HTTP_PATH_RE.test(extra)) throw new UsageError(`--http ${value}: CHECKPATH: expected an absolute URL path like /health, got "${extra}"`);
      const dup = out.find((s) => s.metadata.name === name || s.spec.listen.port === port);
      if (dup) throw new UsageError(`--${type} ${value}: ${dup.metadata.name === name ? `name "${name}"` : `port ${port}`} is already used by another subscription`);
      const check = type === 'mysql' ? { type, user: extra! } : type === 'http' ? { type, path: extra ?? '/' } : { type };
      out.push(subscriptionDoc(name, { service, listen: { address, port }, ...(type === 'http' && { mode: 'http' as const }), check }));
    }
  }
  if (out.length === 0) throw new UsageError('expected at least one --mysql, --tcp or --http subscription', { hint: `e.g. dockstack synapse --mysql ${EXAMPLES.mysql}` });
  return out;
}

/** `create`'s flags (parsed with parse-flags.ts); --path and --port in the seed's forms, with its messages. */
export const CreateFlags = z.object({
  path: z.string().transform((v) => seedPath('--path', v)),
  port: z.string().transform((v) => seedPort('--port', v)),
  host: z.string().optional(),
  address: z.string().optional(),
  mode: z.enum(['tcp', 'http']).optional(),
  check: z.string().optional(),
  dryRun: z.boolean().optional(),
  output: z.enum(['yaml', 'json']),
  manifests: z.string(),
});
