/**
 * The dashboard: a read-only page at `/` (three static files in ./dashboard, no build step, nothing
 * from outside) fed by one server-sent-event stream at /api/v1/stream. The stream sends a snapshot
 * and then changes: objects (coalesced per flush), events, HAProxy's live server states (polled
 * only while someone watches) and a summary (the revision in force, reload counts, manifest errors
 * no object owns).
 * Write controls exist on the page only when the agent has a token; the writes themselves go
 * through the status API's token-checked POSTs like any client's.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { Agent } from '../agent.ts';
import { isKeyOf, keyOf, type ObjectKey } from '../object-key.ts';
import type { Proxy } from '../proxy/proxy.ts';
import { liveServersOfAll } from './live-backends.ts';

export interface DashboardOptions {
  /** Whether the status API accepts writes (a token is configured): the page then offers drain/maintenance. */
  readonly writable: boolean;
  /** Reload counts for the summary. */
  readonly reloadCounts?: () => Promise<unknown>;
  /** The revision in force (the manifest source's, kept in memory: read once per change of the directory). */
  readonly revision?: () => string | undefined;
  /** How often HAProxy's server states are read while a page is open (default 1000 ms). */
  readonly pollMs?: number;
  /** Object changes are sent at most this often (default 100 ms): a cold start of 1,000 objects is a few messages, not 10,000. */
  readonly flushMs?: number;
  /** A client that lets more than this much pile up unread is cut off; its EventSource reconnects to a fresh snapshot. */
  readonly maxBufferedBytes?: number;
}

const ASSETS: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
};
const HEADERS = {
  // Everything is served by the agent; the page may talk only to it.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};
const RECENT_EVENTS = 100;

export class Dashboard {
  private readonly assets = new Map<string, [Buffer, string]>();
  private readonly clients = new Set<ServerResponse>();
  private readonly dirty = new Set<ObjectKey>();
  private readonly lastBackends = new Map<string, string>();
  private lastSummary = '';
  private pollTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private pollAgain = false;
  private unsubscribe: (() => void)[] = [];

  constructor(
    private readonly agent: Agent,
    private readonly proxy: Proxy,
    private readonly opts: DashboardOptions,
  ) {
    for (const [route, [file, type]] of Object.entries(ASSETS)) this.assets.set(route, [readFileSync(new URL(`./dashboard/${file}`, import.meta.url)), type]);
  }

  /** Serve `pathname` if it is one of the dashboard's GET routes; false when it is not. */
  handle(pathname: string, res: ServerResponse): boolean {
    if (pathname === '/api/v1/stream') return this.stream(res), true;
    const asset = this.assets.get(pathname);
    if (!asset) return false;
    res.writeHead(200, { ...HEADERS, 'content-type': asset[1] });
    res.end(asset[0]);
    return true;
  }

  close(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.stop();
  }

  private stream(res: ServerResponse): void {
    res.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream', 'x-accel-buffering': 'no' });
    write(res, 'hello', { writable: this.opts.writable });
    for (const v of this.agent.view()) write(res, 'object', v);
    for (const e of this.agent.status.events().slice(-RECENT_EVENTS)) write(res, 'event', e);
    for (const [name, json] of this.lastBackends) res.write(`event: backends\ndata: {"name":${JSON.stringify(name)},"servers":${json}}\n\n`);
    if (this.lastSummary) res.write(`event: summary\ndata: ${this.lastSummary}\n\n`);
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    if (this.clients.size === 1) this.start();
    else this.poll();
  }

  private start(): void {
    this.unsubscribe = [
      this.agent.status.subscribe((key) => this.changed(key)),
      this.agent.status.onEvent((e) => this.broadcast('event', e)),
    ];
    const every = this.opts.pollMs ?? 1000;
    this.pollTimer = setInterval(() => this.poll(), every);
    // Comments keep idle connections open through proxies and reveal dead clients.
    this.heartbeat = setInterval(() => this.broadcastRaw(': ping\n\n'), 15_000);
    this.poll();
  }

  private stop(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    clearInterval(this.pollTimer);
    clearInterval(this.heartbeat);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.dirty.clear();
    // Stale once nobody watches: the next page gets a fresh read.
    this.lastBackends.clear();
    this.lastSummary = '';
  }

  private changed(key: ObjectKey): void {
    this.dirty.add(key);
    this.flushTimer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 100);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      const v = this.agent.viewOf(key);
      this.broadcast(v ? 'object' : 'deleted', v ?? { key });
    }
    // A Subscription's servers change with its status: read HAProxy now rather than at the next tick.
    if (keys.some((k) => isKeyOf('Subscription', k))) this.poll();
  }

  /** Read HAProxy and the summary; send what changed. One read at a time; a request during one runs once after it. */
  private poll(): void {
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.read()
      .catch(() => undefined)
      .finally(() => {
        this.polling = undefined;
        if (this.pollAgain && this.clients.size) {
          this.pollAgain = false;
          this.poll();
        }
      });
  }

  private async read(): Promise<void> {
    const live = await liveServersOfAll(this.agent, this.proxy, { budgetMs: Math.max(500, this.opts.pollMs ?? 1000) });
    if (this.clients.size === 0) return;
    for (const [name, servers] of live) {
      const json = JSON.stringify(servers);
      if (this.lastBackends.get(name) === json) continue;
      this.lastBackends.set(name, json);
      this.broadcastRaw(`event: backends\ndata: {"name":${JSON.stringify(name)},"servers":${json}}\n\n`);
    }
    for (const name of this.lastBackends.keys()) if (!this.agent.manifests.get(keyOf('Subscription', name))) this.lastBackends.delete(name);
    const summary = JSON.stringify({
      revision: this.opts.revision?.() ?? null,
      reloads: (await this.opts.reloadCounts?.()) ?? null,
      manifestErrors: this.agent.manifests.unattributedErrors().map((e) => e.message),
    });
    if (summary !== this.lastSummary) {
      this.lastSummary = summary;
      this.broadcastRaw(`event: summary\ndata: ${summary}\n\n`);
    }
  }

  private broadcast(event: string, data: unknown): void {
    if (this.clients.size) this.broadcastRaw(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcastRaw(text: string): void {
    const max = this.opts.maxBufferedBytes ?? 4 * 1024 * 1024;
    for (const c of this.clients) {
      c.write(text);
      if (c.writableLength > max) c.destroy();
    }
  }
}

/** One SSE message; JSON never contains a raw newline, so one `data:` line suffices. */
function write(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
