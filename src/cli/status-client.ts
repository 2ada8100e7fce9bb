/** A small client for the agent's status API, with a clear error when no agent is running. */
import { request } from 'node:http';
import { DockstackError } from '../errors.ts';

export const DEFAULT_STATUS_ADDR = '127.0.0.1:7070';

export function statusAddr(flag?: string): string {
  return flag ?? process.env.DOCKSTACK_STATUS_ADDR ?? DEFAULT_STATUS_ADDR;
}

/** "host:port" → { host, port }, or a UsageError-like DockstackError naming the flag. */
export function parseAddr(addr: string, flag = '--status-addr'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 0 || port > 65535)
    throw new DockstackError('E_USAGE', `${flag}: expected host:port, got "${addr}"`, { hint: `e.g. ${flag} ${DEFAULT_STATUS_ADDR}` });
  return { host: (m[1] ?? m[2])!, port };
}

/** GET a JSON path; 404 resolves to undefined. */
export async function getJson<T>(addr: string, path: string): Promise<T | undefined> {
  const { host, port } = parseAddr(addr);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 404) return resolve(undefined);
        if (res.statusCode !== 200) return reject(new DockstackError('E_STATUS_API', `status API ${path}: HTTP ${res.statusCode}: ${body.trim()}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(new DockstackError('E_STATUS_API', `status API ${path}: invalid JSON`, { cause: err }));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 5000 ms')));
    req.on('error', (err) => reject(noAgent(addr, err)));
    req.end();
  });
}

/** Stream NDJSON lines from `path` until the connection closes or `signal` aborts. */
export async function streamJson(addr: string, path: string, onItem: (item: unknown) => void, signal?: AbortSignal): Promise<void> {
  const { host, port } = parseAddr(addr);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, signal }, (res) => {
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
    req.on('error', (err) => (signal?.aborted ? resolve() : reject(noAgent(addr, err))));
    req.end();
  });
}

function noAgent(addr: string, err: Error): DockstackError {
  return new DockstackError('E_NO_AGENT', `cannot reach the DockStack agent at ${addr}: ${err.message}`, {
    cause: err,
    hint: 'start one with `dockstack agent`, or point --status-addr / DOCKSTACK_STATUS_ADDR at it',
  });
}
