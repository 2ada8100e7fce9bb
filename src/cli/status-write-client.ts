/** POST to the agent's status API write operations, with the Bearer token from --status-token / env. */
import { request } from 'node:http';
import { DockstackError } from '../errors.ts';
import { parseAddr } from './status-client.ts';

export function statusToken(flag?: string): string | undefined {
  return flag ?? (process.env.DOCKSTACK_STATUS_TOKEN || undefined);
}

/** POST `body` as JSON; resolves the JSON answer on 200, throws the agent's message otherwise. */
export async function postJson<T>(addr: string, path: string, body: unknown, token: string | undefined): Promise<T> {
  const { host, port } = parseAddr(addr);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request({ host, port, path, method: 'POST', headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = { error: text.trim() };
        }
        if (res.statusCode === 200) return resolve(parsed as T);
        const msg = (parsed as { error?: string }).error ?? `HTTP ${res.statusCode}`;
        const hint = res.statusCode === 401 ? 'export DOCKSTACK_STATUS_TOKEN=<the agent\'s --status-token>, or pass --status-token' : undefined;
        reject(new DockstackError(res.statusCode === 404 ? 'E_NOT_FOUND' : 'E_STATUS_API', msg, hint ? { hint } : {}));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 5000 ms')));
    req.on('error', (err) => reject(new DockstackError('E_NO_AGENT', `cannot reach the DockStack agent at ${addr}: ${err.message}`, { cause: err, hint: 'point --status-addr / DOCKSTACK_STATUS_ADDR at a running agent' })));
    req.end(payload);
  });
}
