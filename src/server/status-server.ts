/**
 * The local status API: JSON views of every object, their events, a change stream for `get -w`,
 * /healthz (the process answers), /readyz (start-up done, when a readiness function is given) and
 * /metrics when a metrics handler is given. Binds 127.0.0.1 by default. Read-only
 * unless a token is configured; then the POST operations of write-api.ts are allowed.
 * It can listen before the agent exists (the CLI does, so /healthz answers while the rest of the
 * agent loads): until attach(), /readyz says 503 "start-up" and every other request waits.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from '../agent.ts';
import { DockstackError, UsageError } from '../errors.ts';
import type { Kind } from '../manifest/schema.ts';
import { keyOf, toKey } from '../object-key.ts';
import { hostGuard } from './host-guard.ts';
import type { Readiness } from './sync-progress.ts';
import { handleWrite, type WriteApiOptions } from './write-api.ts';

const KIND_BY_PLURAL: Record<string, Kind> = { services: 'Service', subscriptions: 'Subscription' };

/** What the API serves from the agent; given to the constructor, or later to attach(). */
export interface StatusRoutes extends Pick<WriteApiOptions, 'operations' | 'defaultDrainMs'> {
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
  /** GET /readyz: 200 when ready, else 503; the body says what is pending. */
  readonly readiness?: () => Readiness;
  /** More GET routes (the dashboard…), tried in order before the API's own; each says whether it served. */
  readonly routes?: readonly GetRoute[];
}

export interface StatusServerOptions extends StatusRoutes {
  readonly host?: string;
  readonly port: number;
  /** Bearer token allowing the write operations; none = read-only. */
  readonly token?: string;
  /** More Host header names to serve besides the bind address, localhost and 127.0.0.1. */
  readonly allowedHosts?: readonly string[];
  /** At most this many open /api/v1/watch streams (default 32); more get 503. */
  readonly maxWatchStreams?: number;
  /** A watch stream whose unsent output exceeds this (default 1 MiB) is a slow reader: dropped. */
  readonly maxWatchBufferedBytes?: number;
  /** Time a client has to send its request headers (default 10 s). */
  readonly headersTimeoutMs?: number;
}

/** Serve `pathname` and return true, or return false to pass. */
export type GetRoute = (pathname: string, res: ServerResponse) => boolean | Promise<boolean>;

/** Open connections at once; Node drops the excess on accept. */
const MAX_CONNECTIONS = 256;

export class StatusServer {
  private server: Server | undefined;
  private readonly streams = new Set<ServerResponse>();
  private served: { agent: Agent; routes: StatusRoutes } | undefined;
  private onAttach: (() => void) | undefined;
  private readonly attached = new Promise<void>((resolve) => (this.onAttach = resolve));

  /** `agent` undefined: serve only /healthz and /readyz (503 "start-up") until attach(). */
  constructor(
    agent: Agent | undefined,
    private readonly opts: StatusServerOptions,
  ) {
    if (agent) this.attach(agent, opts);
  }

  /** Serve `agent` (once); requests waiting for it go on. */
  attach(agent: Agent, routes: StatusRoutes): void {
    if (this.served) throw new Error('StatusServer.attach: already serving an agent');
    this.served = { agent, routes };
    this.onAttach?.();
  }

  /** Listen; resolves with the bound address ("127.0.0.1:7070"). */
  async start(): Promise<string> {
    const headersTimeout = this.opts.headersTimeoutMs ?? 10_000;
    const allowed = hostGuard(this.opts.host ?? '127.0.0.1', this.opts.allowedHosts);
    // Node checks the header timeout only every connectionsCheckingInterval (30 s by default):
    // measured, a slow-header client was held 85 s before these were set.
    const server = createServer({ headersTimeout, requestTimeout: headersTimeout + 20_000, connectionsCheckingInterval: Math.min(1000, headersTimeout) }, (req, res) => {
      if (!allowed(req))
        return send(res, 403, { error: `Host "${req.headers.host}" is not one this agent serves (DNS rebinding guard)`, hint: 'connect to 127.0.0.1/localhost, or add the name with --status-allowed-hosts' });
      this.handle(req, res).catch((err: unknown) => send(res, 500, { error: String(err) }));
    });
    server.maxConnections = MAX_CONNECTIONS;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new DockstackError('E_STATUS_LISTEN', `starting the status API on ${this.opts.host ?? '127.0.0.1'}:${this.opts.port}: ${err.message}`, { cause: err, hint: 'pick another --status-addr' })));
      server.listen(this.opts.port, this.opts.host ?? '127.0.0.1', resolve);
    });
    return this.address!;
  }

  /** The bound address ("127.0.0.1:7070") once listening. */
  get address(): string | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? `${a.address}:${a.port}` : undefined;
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.end();
    this.streams.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const parts = url.pathname.split('/').filter(Boolean);
    const isGet = req.method === 'GET' || req.method === 'HEAD';
    if (isGet && url.pathname === '/healthz') return send(res, 200, { ok: true });
    if (!this.served) {
      if (isGet && url.pathname === '/readyz') return send(res, 503, { ready: false, waiting: 'start-up' } satisfies Readiness);
      await this.attached;
    }
    const { routes } = this.served!;
    if (!isGet) {
      const [code, body] = await handleWrite(req, parts, { ...routes, ...(this.opts.token !== undefined && { token: this.opts.token }) });
      return send(res, code, body);
    }
    if (url.pathname === '/readyz' && routes.readiness) {
      const r = routes.readiness();
      return send(res, r.ready ? 200 : 503, r);
    }
    if (url.pathname === '/metrics' && routes.metrics) {
      const m = await routes.metrics();
      res.writeHead(200, { 'content-type': m.contentType });
      return void res.end(m.body);
    }
    for (const route of routes.routes ?? []) if (await route(url.pathname, res)) return;
    if (parts[0] !== 'api' || parts[1] !== 'v1') return send(res, 404, { error: `no route ${url.pathname}` });
    const { agent } = this.served!;
    const [, , resource, name] = parts;
    if (resource === 'events') {
      const object = url.searchParams.get('object');
      const key = object === null ? undefined : toKey(object);
      return send(res, 200, object === null ? agent.status.events() : key ? agent.status.events(key) : []);
    }
    if (resource === 'watch') return this.watch(agent, res, KIND_BY_PLURAL[url.searchParams.get('kind') ?? '']);
    const kind = KIND_BY_PLURAL[resource ?? ''];
    if (!kind) return send(res, 404, { error: `unknown resource ${resource}` });
    if (name === undefined) return send(res, 200, agent.view(kind));
    const view = agent.viewOf(keyOf(kind, name));
    return view ? send(res, 200, view) : send(res, 404, { error: `${kind.toLowerCase()} "${name}" not found` });
  }

  /** NDJSON: every object now, then each object again whenever its status or manifest changes. */
  private watch(agent: Agent, res: ServerResponse, kind: Kind | undefined): void {
    if (this.streams.size >= (this.opts.maxWatchStreams ?? 32))
      return send(res, 503, { error: `too many watch streams open (${this.streams.size})`, hint: 'close some `get -w` clients' });
    const maxBuffered = this.opts.maxWatchBufferedBytes ?? 1024 * 1024;
    // A client that does not read would make us buffer every change for it, for ever (measured
    // before this bound: 20 such clients took the agent from 224 to 618 MB). Drop it instead; a
    // `get -w` that falls this far behind reconnects and re-lists.
    const write = (line: string) => {
      if (res.writableLength > maxBuffered) res.destroy();
      else res.write(line);
    };
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    res.flushHeaders(); // the client knows it is subscribed even while nothing changes
    for (const v of agent.view(kind)) write(`${JSON.stringify(v)}\n`);
    const unsubscribe = agent.status.subscribe((key) => {
      const v = agent.viewOf(key);
      if (v && (!kind || v.kind === kind)) write(`${JSON.stringify(v)}\n`);
      else if (!v) write(`${JSON.stringify({ deleted: key })}\n`);
    });
    this.streams.add(res);
    res.on('close', () => {
      unsubscribe();
      this.streams.delete(res);
    });
  }
}

/** "host:port" (IPv6 in brackets) → [host, port]; a usage error names --status-addr. */
/** A StatusServer on "host:port" (a usage error when malformed) with no agent yet: start(), then attach(). */
export function statusServerAt(addr: string, opts: { token?: string | undefined; allowedHosts?: readonly string[] | undefined }): StatusServer {
  const [host, port] = parseStatusAddr(addr);
  return new StatusServer(undefined, { host, port, ...(opts.token && { token: opts.token }), ...(opts.allowedHosts && { allowedHosts: opts.allowedHosts }) });
}

export function parseStatusAddr(addr: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  if (!m || Number(m[3]) > 65535) throw new UsageError(`--status-addr: expected host:port, got "${addr}"`, { hint: 'e.g. --status-addr 127.0.0.1:7070' });
  return [(m[1] ?? m[2])!, Number(m[3])];
}

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}
