/**
 * The one client of the agent's status API for the CLI commands: JSON reads, the NDJSON watch
 * stream and the token-bearing writes, with one clear error when no agent answers.
 */
import { request, type IncomingMessage, type RequestOptions } from 'node:http';
import { DockstackError, UsageError } from '../errors.ts';
import { DEFAULT_STATUS_ADDR, type StatusOpts } from './shared-options.ts';

const TIMEOUT_MS = 5000;

/** "host:port" → { host, port }, or a usage error naming the flag. */
export function parseAddr(addr: string, flag = '--status-addr'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 0 || port > 65535)
    throw new UsageError(`${flag}: expected host:port, got "${addr}"`, { hint: `e.g. ${flag} 127.0.0.1:7070` });
  return { host: (m[1] ?? m[2])!, port };
}

export class StatusClient {
  readonly addr: string;
  private readonly host: string;
  private readonly port: number;
  private readonly token: string | undefined;

  constructor(opts: StatusOpts) {
    // An empty DOCKSTACK_STATUS_ADDR is unset, as for the agent.
    this.addr = opts.statusAddr || DEFAULT_STATUS_ADDR;
    ({ host: this.host, port: this.port } = parseAddr(this.addr));
    this.token = opts.statusToken || undefined;
  }

  /** GET a JSON path; 404 resolves to undefined. */
  async get<T>(path: string): Promise<T | undefined> {
    const { status, body } = await this.send({ path, timeout: TIMEOUT_MS });
    if (status === 404) return undefined;
    if (status !== 200) throw new DockstackError('E_STATUS_API', `status API ${path}: HTTP ${status}: ${body.trim()}`);
    try {
      return JSON.parse(body) as T;
    } catch (err) {
      throw new DockstackError('E_STATUS_API', `status API ${path}: invalid JSON`, { cause: err });
    }
  }

  /** POST `body` as JSON with the token; the JSON answer on 200, the agent's message otherwise. */
  async post<T>(path: string, body: unknown): Promise<T> {
    const payload = JSON.stringify(body);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await this.send({ path, method: 'POST', headers, timeout: TIMEOUT_MS }, payload);
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      parsed = { error: res.body.trim() };
    }
    if (res.status === 200) return parsed as T;
    const msg = (parsed as { error?: string }).error ?? `HTTP ${res.status}`;
    const hint = res.status === 401 ? 'export DOCKSTACK_STATUS_TOKEN=<the agent\'s --status-token>, or pass --status-token' : undefined;
    throw new DockstackError(res.status === 404 ? 'E_NOT_FOUND' : 'E_STATUS_API', msg, hint ? { hint } : {});
  }

  /** Stream NDJSON lines from `path` until the connection closes or `signal` aborts. */
  async stream(path: string, onItem: (item: unknown) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request({ host: this.host, port: this.port, path, ...(signal && { signal }) }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim()) onItem(JSON.parse(line));
          }
        });
        res.on('end', resolve);
      });
      req.on('error', (err) => (signal?.aborted ? resolve() : reject(this.noAgent(err))));
      req.end();
    });
  }

  private send(opts: RequestOptions, payload?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: this.host, port: this.port, ...opts }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('timeout', () => req.destroy(new Error(`timed out after ${TIMEOUT_MS} ms`)));
      req.on('error', (err) => reject(this.noAgent(err)));
      req.end(payload);
    });
  }

  private noAgent(err: Error): DockstackError {
    return new DockstackError('E_NO_AGENT', `cannot reach the DockStack agent at ${this.addr}: ${err.message}`, {
      cause: err,
      hint: 'start one with `dockstack agent`, or point --status-addr / DOCKSTACK_STATUS_ADDR at it',
    });
  }
}
