/**
 * The status API's write side: POST /api/v1/services/NAME/drain {on, timeoutMs} and
 * POST /api/v1/subscriptions/NAME/maintenance {backend, on}. Allowed only when the agent has a
 * token (--status-token / DOCKSTACK_STATUS_TOKEN) and the request carries it as a Bearer header;
 * without a token the API stays read-only.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';
import { DockstackError } from '../errors.ts';
import type { Operations } from './operations.ts';

const MAX_BODY = 4096;
const DrainBody = z.strictObject({ on: z.boolean(), timeoutMs: z.number().int().min(0).max(86_400_000).optional() });
const MaintenanceBody = z.strictObject({ backend: z.string().max(300), on: z.boolean() });

/** Where writes go; `token` undefined means read-only. */
export interface WriteApiOptions {
  readonly token?: string;
  readonly operations?: Operations;
  /** Drain timeout when the request names none. */
  readonly defaultDrainMs?: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of the request's Bearer token with the configured one. */
function authorized(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new DockstackError('E_BAD_REQUEST', `reading the request body: larger than ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch (err) {
    throw new DockstackError('E_BAD_REQUEST', 'reading the request body: not JSON', { cause: err });
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  throw new DockstackError('E_BAD_REQUEST', `${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
}

/** Handle a non-GET request: [status code, JSON body]. */
export async function handleWrite(req: IncomingMessage, parts: readonly string[], opts: WriteApiOptions): Promise<[number, unknown]> {
  if (req.method !== 'POST') return [405, { error: `${req.method} is not supported: the status API is read-only except POST operations` }];
  if (!opts.token || !opts.operations)
    return [403, { error: 'write operations are disabled: start the agent with --status-token (or DOCKSTACK_STATUS_TOKEN) to allow drain and maintenance' }];
  if (!authorized(req, opts.token)) return [401, { error: 'missing or wrong Bearer token: set DOCKSTACK_STATUS_TOKEN (or --status-token) to the agent\'s token' }];
  const [api, v1, resource, name, op] = parts;
  try {
    if (api !== 'api' || v1 !== 'v1' || !name || parts.length !== 5) return [404, { error: `no write route /${parts.join('/')}` }];
    if (resource === 'services' && op === 'drain') {
      const b = parse(DrainBody, await readBody(req), `draining service "${name}"`);
      return [200, opts.operations.drain(name, b.on, b.timeoutMs ?? opts.defaultDrainMs ?? 30_000)];
    }
    if (resource === 'subscriptions' && op === 'maintenance') {
      const b = parse(MaintenanceBody, await readBody(req), `setting maintenance on subscription "${name}"`);
      return [200, opts.operations.maintenance(name, b.backend, b.on)];
    }
    return [404, { error: `no write route /${parts.join('/')}` }];
  } catch (err) {
    if (!(err instanceof DockstackError)) throw err;
    return [err.code === 'E_NOT_FOUND' ? 404 : 400, { error: err.message }];
  }
}
