/**
 * Pure rendering of the HAProxy configuration: desired listeners with their server slots → config
 * text. Every value is re-checked against a strict charset here, even though the manifest schema
 * validated it already: nothing that could start a new line, a comment or a quoted word reaches
 * the file.
 */
import { isRoutableIp } from '../net/address.ts';
import { HaproxyError } from '../errors.ts';
import { NAME_RE, isValidHost } from '../manifest/schema.ts';
import type { EndpointCheck, ListenerSpec } from '../proxy/proxy.ts';
import { ordinal } from '../ordinal.ts';

/** What one pre-allocated server slot holds: an IP literal, port, weight and admin state. */
export interface SlotState {
  readonly ip: string;
  readonly port: number;
  readonly weight: number;
  readonly admin: 'ready' | 'drain' | 'maint';
}

/** One listener as rendered: its spec and its slots (`undefined` = empty, disabled slot). */
export interface ListenerRender {
  readonly name: string;
  readonly spec: ListenerSpec;
  readonly slots: readonly (SlotState | undefined)[];
}

/** Process-wide settings rendered into `global`. */
export interface GlobalRender {
  /** State directory: holds admin.sock and promex.sock. */
  readonly dir: string;
  /** Old workers holding long connections are killed after this long (bounded reload tail). */
  readonly hardStopAfterMs?: number;
  /** Workers switch to this uid/gid after binding (the agent runs as root). */
  readonly runAs?: { readonly uid: number; readonly gid: number } | undefined;
  /** Where listeners send access-log datagrams ("127.0.0.1:PORT"), and whether they do when their spec does not say. */
  readonly accessLog?: { readonly target: string; readonly byDefault: boolean };
  /** dir holds dockstack.lua (lua-slots.ts): load it when HAProxy has Lua, for O(1) slot edits. */
  readonly lua?: boolean;
}

/** The access-log line (%f is the frontend, `_fe_NAME`): space-separated, http adding status, request time, method and quoted URI (parsed by src/server/access-log.ts). */
export const ACCESS_LOG_FORMAT = {
  tcp: '%f %ci:%cp %s %si:%sp %Tw %Tc %Tt %B %U %ts',
  http: '%f %ci:%cp %s %si:%sp %Tw %Tc %Tt %B %U %ts %ST %TR %HM %{+Q}HU',
} as const;

/** Slot server names: s1, s2, ... (stable, so runtime commands can address them). */
export const slotName = (i: number): string => `s${i + 1}`;

/**
 * Slot i's server id, given explicitly: HAProxy 2.6 finds the next free id by a walk over the used
 * ones, so auto-numbering is quadratic. Measured: `haproxy -c` of 16,384 servers 8.9 s without
 * ids, 0.3 s with them; 6,000 `add server` 3.0 s without, 0.8 s with.
 */
export const slotId = (i: number): string => ` id ${i + 1}`;

/**
 * Slots to allocate for `servers` servers: max(minSlots, the next size ≥ servers in four steps per
 * doubling: 2^k × 1, 1.25, 1.5, 1.75), so at most 25 % headroom; servers past it are dynamic.
 * Every slot costs HAProxy at each parse and start (2.6 also builds a Lua object per server at
 * start). Measured, 10,000 servers in 16,384 slots (the next power of two) → 10,240: `haproxy -c`
 * 150 → 90 ms of CPU, a start 390 → 220 ms.
 */
export function slotCountFor(servers: number, minSlots: number): number {
  let pow = 4;
  while (pow * 2 <= servers && pow < 1 << 20) pow *= 2;
  const step = pow / 4;
  return Math.max(minSlots, Math.ceil(Math.max(servers, 1) / step) * step);
}

/** Every ListenerSpec field shapes the config: a change in any of them needs a reload. */
export function configKey(spec: ListenerSpec): string {
  return JSON.stringify([spec.listen, spec.protocol, spec.balance, spec.check, spec.timeouts, spec.accessLog]);
}

const fail = (what: string, value: unknown): never => {
  throw new HaproxyError(`rendering HAProxy config: refusing unsafe ${what} ${JSON.stringify(value)?.slice(0, 80)}`);
};
const SAFE_PATH_RE = /^\/[A-Za-z0-9._/-]+$/;
const URI_RE = /^\/[\x21-\x7e]*$/;
const USER_RE = /^[A-Za-z0-9_.-]{1,80}$/;
// `source` hashes consistently: HAProxy refuses dynamic servers (`add server`) under map-based hashing.
const BALANCE: Readonly<Record<string, string>> = { 'round-robin': 'roundrobin', 'least-connections': 'leastconn', first: 'first', 'source-hash': 'source\n  hash-type consistent', random: 'random' };

function name(v: string): string {
  return typeof v === 'string' && NAME_RE.test(v) ? v : fail('listener name', v);
}
function int(what: string, v: number, min: number, max: number): number {
  return Number.isInteger(v) && v >= min && v <= max ? v : fail(what, v);
}
function ip(v: string): string {
  return typeof v === 'string' && isRoutableIp(v) ? v : fail('server address', v);
}
/** "ip:port" with IPv6 bracketed. */
function ipPort(host: string, port: number): string {
  const h = ip(host);
  return `${h.includes(':') ? `[${h}]` : h}:${int('port', port, 1, 65535)}`;
}
function bindAddr(host: string, port: number): string {
  if (!isValidHost(host)) fail('listen address', host);
  return `${host.includes(':') ? `[${host}]` : host}:${int('listen port', port, 1, 65535)}`;
}
/** Single-quoted word: HAProxy does no escaping or variable expansion inside single quotes. */
function quoted(what: string, v: string): string {
  return URI_RE.test(v) && !v.includes("'") ? `'${v}'` : fail(what, v);
}

/** Render the whole config. Throws HaproxyError on any value outside its safe charset. */
export function renderConfig(g: GlobalRender, listeners: readonly ListenerRender[]): string {
  if (!SAFE_PATH_RE.test(g.dir)) fail('state directory', g.dir);
  const hardStop = int('hard-stop-after', g.hardStopAfterMs ?? 300_000, 1, 86_400_000);
  const out = [
    '# Generated by DockStack; edits are overwritten.',
    'global',
    `  stats socket ${g.dir}/admin.sock mode 600 level admin expose-fd listeners`,
    '  stats timeout 30s',
    `  hard-stop-after ${hardStop}ms`,
    '  mworker-max-reloads 50',
    ...(g.runAs ? [`  uid ${int('uid', g.runAs.uid, 1, 4_294_967_294)}`, `  gid ${int('gid', g.runAs.gid, 0, 4_294_967_294)}`] : []),
    ...(g.lua ? ['.if feature(LUA)', `  lua-load ${g.dir}/dockstack.lua`, '.endif'] : []),
    // 2.6 loads the CA bundle at every start otherwise, doubling `haproxy -c` time.
    '  httpclient.ssl.verify none',
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout check 5s',
    '  timeout http-request 30s',
    '  timeout http-keep-alive 10s',
    // Redispatch on every retry: a refused connection (a killed backend) goes to another server at
    // once, without the 1 s same-server turn-around, so the client never sees the failure.
    '  option redispatch 1',
    '  retries 3',
    '',
    // HAProxy's own Prometheus exporter, on a socket only the agent reads (GET /metrics/haproxy).
    // The leading underscore keeps it apart from listener names (NAME_RE).
    'frontend _promex',
    `  bind unix@${g.dir}/promex.sock mode 600`,
    '  mode http',
    '  http-request use-service prometheus-exporter',
    '',
  ];
  const seen = new Set<string>();
  for (const l of [...listeners].sort((a, b) => ordinal(a.name, b.name))) {
    if (seen.has(name(l.name))) fail('duplicate listener name', l.name);
    seen.add(l.name);
    out.push(...renderListener(l, g.accessLog), '');
  }
  return out.join('\n');
}

/**
 * The prefix of each listener's frontend name. Each listener is a `frontend` + `backend` pair, not one
 * `listen`: HAProxy 2.6 builds a Lua object per server for every table a proxy is in
 * (core.proxies, .frontends, .backends; a `listen` is in all three), at every start. Measured,
 * 10,240 tcp-checked servers with dockstack.lua: a start 390–510 ms of CPU (medians) as `listen`,
 * 320–400 ms split. The backend keeps the
 * listener's name, so `show stat NAME` / `show servers state NAME` find it (and its servers) and
 * not the frontend; the leading underscore keeps this name apart from every listener name (NAME_RE).
 */
export const FRONTEND_PREFIX = '_fe_';

function renderListener(l: ListenerRender, accessLog: GlobalRender['accessLog']): string[] {
  const { spec } = l;
  const mode = spec.protocol === 'http' ? 'http' : spec.protocol === 'tcp' ? 'tcp' : fail('protocol', spec.protocol);
  const backend = name(l.name);
  const fe = [
    `frontend ${FRONTEND_PREFIX}${backend}`,
    `  bind ${bindAddr(spec.listen.host, spec.listen.port)}`,
    `  mode ${mode}`,
    `  timeout client ${int('timeout', spec.timeouts.clientMs, 1, 86_400_000)}ms`,
  ];
  if (accessLog && (spec.accessLog ?? accessLog.byDefault)) {
    const [host, port] = accessLog.target.split(/:(?=\d+$)/);
    // UDP: HAProxy never waits for the agent; datagrams the agent cannot take are dropped.
    fe.push(`  log ${ipPort(host ?? '', Number(port))} len 4096 format raw local0 info`, `  log-format "${ACCESS_LOG_FORMAT[mode]}"`);
  }
  // Measured: without it, keep-alive requests fail while an old worker is shutting down.
  if (mode === 'http') fe.push('  option idle-close-on-response');
  fe.push(`  default_backend ${backend}`);
  const lines = [
    `backend ${backend}`,
    `  mode ${mode}`,
    `  balance ${Object.hasOwn(BALANCE, spec.balance) ? BALANCE[spec.balance] : fail('balance', spec.balance)}`,
    `  timeout connect ${int('timeout', spec.timeouts.connectMs, 1, 86_400_000)}ms`,
    `  timeout server ${int('timeout', spec.timeouts.serverMs, 1, 86_400_000)}ms`,
  ];
  // Measured (bench death): a request in flight when its server is SIGKILLed fails with 502 unless
  // it is retried; only idempotent GET/HEAD may be, as the server might have acted on the rest.
  if (mode === 'http') lines.push('  retry-on conn-failure empty-response', '  http-request disable-l7-retry unless METH_GET');
  const c = spec.check;
  const check = checkArgs(c);
  if (c.kind !== 'none') {
    if (c.kind === 'mysql') lines.push(`  option mysql-check user ${USER_RE.test(c.user) ? c.user : fail('check user', c.user)}`);
    else if (c.kind === 'redis') lines.push('  option redis-check');
    else if (c.kind === 'http') {
      let send = `  http-check send meth GET uri ${quoted('check path', c.path)}`;
      // `hdr` takes a log-format string: an unescaped % is a variable (%H sent the machine's hostname).
      if (c.hostHeader !== undefined) send += ` hdr Host ${isValidHost(c.hostHeader) ? c.hostHeader.replaceAll('%', '%%') : fail('Host header', c.hostHeader)}`;
      lines.push('  option httpchk', send);
    } else if (c.kind !== 'tcp') fail('check kind', (c as { kind: unknown }).kind);
  }
  l.slots.forEach((s, i) => {
    if (s === undefined) lines.push(`  server ${slotName(i)} 127.0.0.1:1${slotId(i)} disabled${check}`);
    else {
      // A draining slot renders as maint: the fresh worker has no sessions on it to drain.
      lines.push(`  server ${slotName(i)} ${serverArgs(s, i)}${s.admin === 'ready' ? '' : ' disabled'}${check}`);
    }
  });
  return [...fe, '', ...lines];
}

/** " check inter … rise … fall …" for a server line or `add server`; "" without checks. */
export function checkArgs(c: EndpointCheck): string {
  if (c.kind === 'none') return '';
  return ` check inter ${int('check interval', c.intervalMs, 100, 3_600_000)} rise ${int('rise', c.rise, 1, 100)} fall ${int('fall', c.fall, 1, 100)}`;
}

/** "ip:port id n weight w" of slot `i`, each value re-checked. */
export function serverArgs(s: SlotState, i: number): string {
  return `${ipPort(s.ip, s.port)}${slotId(int('slot', i, 0, 1 << 20))} weight ${int('weight', s.weight, 0, 256)}`;
}
