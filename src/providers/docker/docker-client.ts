/**
 * A small typed Docker Engine API client over the Unix socket (node:http, no SDK): list, inspect
 * and the streaming events endpoint. Errors say what was being done and on which socket.
 */
import { request, type IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { DockstackError } from '../../errors.ts';
import { ContainerInfo, ContainerSummary, DockerEvent } from './docker-api.ts';

const MAX_BODY = 16 * 1024 * 1024;
const MAX_EVENT_LINE = 1024 * 1024;

/** The Docker Engine could not be reached or answered badly. */
export class DockerError extends DockstackError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('E_DOCKER', message, { cause: opts.cause, hint: 'is dockerd running, and is --docker-socket (DOCKER_SOCKET) readable by this user?' });
  }
}

/** An open events stream; `close` ends it without calling `onEnd`. */
export interface EventStream {
  close(): void;
}

export class DockerClient {
  constructor(readonly socketPath: string, private readonly timeoutMs = 10_000) {}

  /** Running (and paused) containers, optionally only those carrying `label`. */
  async listContainers(label?: string): Promise<ContainerSummary[]> {
    const filters = label ? `?filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}` : '';
    const body = await this.#get(`/containers/json${filters}`, 'listing containers');
    return this.#parse(ContainerSummary.array(), body, 'listing containers');
  }

  /** The container's details; undefined when it no longer exists. */
  async inspect(id: string): Promise<ContainerInfo | undefined> {
    const what = `inspecting container ${id.slice(0, 12)}`;
    const body = await this.#get(`/containers/${encodeURIComponent(id)}/json`, what, true);
    return body === undefined ? undefined : this.#parse(ContainerInfo, body, what);
  }

  /**
   * Stream container events carrying `label`. Resolves once Docker accepted the request (so a
   * listing made afterwards cannot miss a change); `onEnd` reports a stream that stopped by itself.
   */
  events(label: string, onEvent: (e: DockerEvent) => void, onEnd: (err: Error) => void): Promise<EventStream> {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], label: [label] }));
    return new Promise((resolve, reject) => {
      let closed = false;
      const req = request({ socketPath: this.socketPath, path: `/events?filters=${filters}`, method: 'GET' }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new DockerError(`watching events on ${this.socketPath}: HTTP ${res.statusCode}`));
        }
        resolve({ close: () => ((closed = true), req.destroy()) });
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line) this.#event(line, onEvent);
          }
          if (buf.length > MAX_EVENT_LINE) req.destroy(new Error('event message too large'));
        });
        const end = (err?: Error) => {
          if (closed) return;
          closed = true;
          onEnd(new DockerError(`watching events on ${this.socketPath}: ${err?.message ?? 'stream ended'}`, { cause: err }));
        };
        res.on('end', () => end());
        res.on('error', end);
        res.on('close', () => end());
      });
      req.on('error', (err) => (closed ? undefined : reject(new DockerError(`watching events on ${this.socketPath}: ${err.message}`, { cause: err }))));
      req.end();
    });
  }

  #event(line: string, onEvent: (e: DockerEvent) => void): void {
    try {
      const e = DockerEvent.safeParse(JSON.parse(line));
      if (e.success) onEvent(e.data);
    } catch {
      // A malformed message cannot name its container; the next relist repairs whatever it meant.
    }
  }

  #get(path: string, what: string, notFoundOk = false): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const fail = (msg: string, cause?: unknown) => reject(new DockerError(`${what} via ${this.socketPath}: ${msg}`, { cause }));
      const req = request({ socketPath: this.socketPath, path, method: 'GET', timeout: this.timeoutMs }, (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (body.length > MAX_BODY) req.destroy(new Error(`reply larger than ${MAX_BODY} bytes`));
        });
        res.on('end', () => {
          if (res.statusCode === 404 && notFoundOk) resolve(undefined);
          else if (res.statusCode !== 200) fail(`HTTP ${res.statusCode}: ${body.trim().slice(0, 200)}`);
          else resolve(body);
        });
        res.on('error', (err) => fail(err.message, err));
      });
      req.on('timeout', () => req.destroy(new Error(`no reply within ${this.timeoutMs} ms`)));
      req.on('error', (err) => fail(err.message, err));
      req.end();
    });
  }

  #parse<T extends z.ZodType>(schema: T, body: string | undefined, what: string): z.infer<T> {
    let json: unknown;
    try {
      json = JSON.parse(body ?? '');
    } catch (err) {
      throw new DockerError(`${what}: reply is not JSON`, { cause: err });
    }
    const r = schema.safeParse(json);
    if (!r.success) throw new DockerError(`${what}: unexpected reply: ${r.error.issues[0]?.message ?? 'invalid'}`);
    return r.data;
  }
}
