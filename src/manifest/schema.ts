/**
 * The manifest API (dockstack.io/v1alpha1): zod schemas are the single source of truth for
 * validation, TypeScript types (z.infer) and the published JSON Schema (schemas/).
 *
 * Every value that can reach the HAProxy config or a registry key is constrained here to a safe
 * charset, so rendering never has to guess how to escape it.
 */
import * as z from 'zod';
import { HOST_PORT_RE, HOST_RE } from './host-syntax.ts';

export const API_VERSION = 'dockstack.io/v1alpha1';

const got = (input: unknown): string => {
  // JSON prints .inf and .nan as "null", which would hide what the user wrote.
  const s = typeof input === 'number' && !Number.isFinite(input) ? String(input) : JSON.stringify(input);
  return s === undefined ? String(input) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
};

/** Integer in [min, max] whose every failure reads "expected integer min–max, got X". */
function intIn(min: number, max: number) {
  const error = (iss: { input?: unknown }) => `expected integer ${min}–${max}, got ${got(iss.input)}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

export const port = () => intIn(1, 65535);
const durationMs = (min: number, max: number) => intIn(min, max);

/** Object names: DNS-label-like, safe as HAProxy identifiers and file names. */
export const NAME_RE = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
export const name = () =>
  z.string({ error: (iss) => `expected a name, got ${got(iss.input)}` }).regex(NAME_RE, {
    error: (iss) =>
      `expected lowercase letters, digits, '-', '_' or '.', starting and ending alphanumeric, at most 63 characters, got ${got(iss.input)}`,
  });

/**
 * Registry paths: "/services/mysql". Each segment a safe token (valid znode and etcd key part);
 * "." and ".." are refused: ZooKeeper rejects them as znode names.
 */
export const REGISTRY_PATH_RE = /^(\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)+$/;
export const registryPath = () =>
  z.string().regex(REGISTRY_PATH_RE, {
    error: (iss) => `expected a registry path like "/services/mysql" (segments of A-Z a-z 0-9 . _ -, not . or ..), got ${got(iss.input)}`,
  });

export { HOST_PORT_RE, HOST_RE, isValidHost, parseHostPort } from './host-syntax.ts';
export const host = () => z.string().regex(HOST_RE, { error: (iss) => `expected an IP address or hostname, got ${got(iss.input)}` });
/** A Host header value: a host without an IPv6 zone (a "%" means nothing to the server, and HAProxy would expand it). */
const hostHeader = () =>
  host().regex(/^[^%]*$/, { error: (iss) => `expected a hostname or IP address without a "%" zone, got ${got(iss.input)}` });
const hostPort = () =>
  z.string().regex(HOST_PORT_RE, { error: (iss) => `expected "host:port" with a valid host and a port 1–65535, got ${got(iss.input)}` });

/** Label keys, in manifests and in registry entries. */
export const LABEL_KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/;
/** An HTTP check's request path: absolute, printable ASCII, no spaces. */
export const HTTP_PATH_RE = /^\/[\x21-\x7e]*$/;
/** A MySQL check user. */
export const CHECK_USER_RE = /^[A-Za-z0-9_.-]{1,80}$/;
const labels = () =>
  z.record(
    z.string().regex(LABEL_KEY_RE, { error: (iss) => `expected a label key of A-Z a-z 0-9 . _ / -, got ${got(iss.input)}` }),
    z.string().max(253, { error: 'expected a label value of at most 253 characters' }),
  );

const metadata = z.strictObject({
  name: name(),
  labels: labels().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

// ---- Service: "register this instance while it is healthy" -------------------------------

const checkTiming = {
  intervalMs: durationMs(50, 3_600_000).default(2000),
  timeoutMs: durationMs(10, 600_000).default(1000),
  rise: intIn(1, 100).default(2),
  fall: intIn(1, 100).default(3),
};

export const TcpCheck = z.strictObject({ type: z.literal('tcp'), host: host().optional(), port: port().optional(), ...checkTiming });
export const HttpCheck = z.strictObject({
  type: z.literal('http'),
  host: host().optional(),
  port: port().optional(),
  path: z.string().regex(HTTP_PATH_RE, { error: 'expected an absolute URL path without spaces' }).default('/'),
  hostHeader: hostHeader().optional(),
  expectStatus: z.array(intIn(100, 599)).optional(),
  expectBody: z.string().optional(),
  ...checkTiming,
});
/** A secret: its value never appears in an error message. */
const secret = () => z.string({ error: 'expected a string (the value is not shown: it is a secret)' });
/** A check password kept outside the manifest: a file (re-read at every check) or an environment variable. */
const secretRef = () =>
  z.union([
    z.strictObject({ file: z.string().regex(/^\/[^\0]*$/, { error: 'expected an absolute file path' }) }),
    z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: (iss) => `expected an environment variable name, got ${got(iss.input)}` }) }),
  ], { error: 'expected {file: /absolute/path} or {env: NAME}' });
const notBoth = (c: { password?: string | undefined; passwordFrom?: unknown }) => c.password === undefined || c.passwordFrom === undefined;
const checkUser = () =>
  z.string().regex(CHECK_USER_RE, { error: (iss) => `expected a user name of A-Z a-z 0-9 _ . -, got ${got(iss.input)}` });
export const MysqlCheck = z.strictObject({
  type: z.literal('mysql'),
  host: host().optional(),
  port: port().optional(),
  user: checkUser().default('haproxy_check'),
  password: secret().optional(),
  passwordFrom: secretRef().optional(),
  /** Count "access denied" as alive: the server answered the handshake. */
  acceptAuthError: z.boolean().default(false),
  ...checkTiming,
}).refine(notBoth, { error: 'give password or passwordFrom, not both', path: ['passwordFrom'] });
export const RedisCheck = z.strictObject({
  type: z.literal('redis'),
  host: host().optional(),
  port: port().optional(),
  password: secret().optional(),
  passwordFrom: secretRef().optional(),
  ...checkTiming,
}).refine(notBoth, { error: 'give password or passwordFrom, not both', path: ['passwordFrom'] });
export const HealthCheckSpec = z.discriminatedUnion('type', [TcpCheck, HttpCheck, MysqlCheck, RedisCheck]);

export const ServiceSpec = z.strictObject({
  path: registryPath().describe('Registry path the instance registers under, e.g. /services/mysql; Subscriptions name the same path.'),
  host: host().optional().describe("Address registered for the instance; default the agent's --host."),
  port: port().describe('Port the instance serves on, and the default port of its health checks.'),
  weight: intIn(0, 256).optional().describe("Relative share of traffic consumers' HAProxies give this instance (0–256)."),
  labels: labels().optional().describe('Labels stored with the registration, for consumers.'),
  instanceId: name().optional().describe('Name of the registration; default <name>-<host name>-<agent address>, distinct per host.'),
  checks: z.array(HealthCheckSpec).max(16).default([]).describe('Health checks (tcp, http, mysql, redis), all of which must pass, with rise/fall, before the instance registers.'),
  /** Declarative maintenance: deregister while keeping the process up. */
  maintenance: z.boolean().default(false).describe('Deregister while keeping the process up.'),
});

export const ServiceManifest = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Service'),
  metadata,
  spec: ServiceSpec.describe("What to register: the instance's registry path, address and port, and the health checks it must pass."),
});

// ---- Subscription: "give me a local port that routes to that service" --------------------

const proxyCheckTiming = {
  interMs: durationMs(100, 3_600_000).default(2000),
  rise: intIn(1, 100).default(2),
  fall: intIn(1, 100).default(3),
};
export const ProxyCheck = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('tcp'), ...proxyCheckTiming }),
  z.strictObject({
    type: z.literal('http'),
    path: z.string().regex(HTTP_PATH_RE, { error: 'expected an absolute URL path without spaces' }).default('/'),
    hostHeader: hostHeader().optional(),
    ...proxyCheckTiming,
  }),
  z.strictObject({ type: z.literal('mysql'), user: checkUser(), ...proxyCheckTiming }),
  z.strictObject({ type: z.literal('redis'), ...proxyCheckTiming }),
  z.strictObject({ type: z.literal('none') }),
]);

export const SubscriptionSpec = z.strictObject({
  service: registryPath().describe('Registry path whose healthy instances this listener routes to, e.g. /services/mysql.'),
  listen: z
    .strictObject({
      address: host().default('127.0.0.1').describe('Local address HAProxy binds; 0.0.0.0 serves other hosts too.'),
      port: port().describe('Local port the application connects to.'),
    })
    .describe('The local listener the application connects to instead of the service itself.'),
  mode: z.enum(['tcp', 'http']).default('tcp').describe('tcp proxies connections; http parses requests (status codes in access logs, layer-7 retries).'),
  balance: z.enum(['roundrobin', 'leastconn', 'first', 'source', 'random']).default('roundrobin').describe("HAProxy's load-balancing algorithm across the backends."),
  check: ProxyCheck.default({ type: 'tcp', interMs: 2000, rise: 2, fall: 3 }).describe("HAProxy's own check of each backend (tcp, http, mysql, redis or none), every interMs, with rise/fall."),
  defaultServers: z.array(hostPort()).max(256).default([]).describe('host:port backends used when the registry never listed any instance.'),
  failStatic: z.boolean().default(true).describe('Keep the last known backends when the registry is unreachable or suddenly empty.'),
  timeouts: z
    .strictObject({
      connectMs: durationMs(1, 3_600_000).default(5000).describe('Longest wait for a backend to accept a connection.'),
      clientMs: durationMs(1, 86_400_000).default(3_600_000).describe('Longest client inactivity.'),
      serverMs: durationMs(1, 86_400_000).default(3_600_000).describe('Longest backend inactivity.'),
    })
    .default({ connectMs: 5000, clientMs: 3_600_000, serverMs: 3_600_000 })
    .describe("HAProxy's timeouts for this listener, in milliseconds."),
  /** Backends ("host:port") held in HAProxy maintenance (no new traffic). */
  maintenance: z.array(hostPort()).default([]).describe('host:port backends held in HAProxy maintenance (no new traffic).'),
  /** Log each connection (tcp) or request (http) in the agent's log stream; unset = the agent's --access-log. */
  accessLog: z.boolean().optional().describe("Log each connection (tcp) or request (http) in the agent's log stream; unset = the agent's --access-log."),
});

export const SubscriptionManifest = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Subscription'),
  metadata,
  spec: SubscriptionSpec.describe("What to route: a local listener, the registry path whose healthy instances it routes to, and how."),
});

export const Manifest = z.discriminatedUnion('kind', [ServiceManifest, SubscriptionManifest]);

export type ServiceManifest = z.infer<typeof ServiceManifest>;
export type SubscriptionManifest = z.infer<typeof SubscriptionManifest>;
export type Manifest = z.infer<typeof Manifest>;
export type HealthCheckSpec = z.infer<typeof HealthCheckSpec>;
export type ProxyCheck = z.infer<typeof ProxyCheck>;
export type Kind = Manifest['kind'];
export const KINDS: readonly Kind[] = ['Service', 'Subscription'];
