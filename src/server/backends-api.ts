/**
 * GET /api/v1/backends (every Subscription's servers as the proxy reports them, name → servers)
 * and GET /api/v1/subscriptions/NAME/backends (one). Read live from HAProxy within a bound, for
 * `describe subscription` and `get subscriptions -o wide`.
 */
import type { ServerResponse } from 'node:http';
import type { Agent } from '../agent.ts';
import { keyOf } from '../object-key.ts';
import type { Proxy } from '../proxy/proxy.ts';
import { liveServers, liveServersOfAll } from './live-backends.ts';

/** A status-server GET route serving the live backend views. */
export function backendsRoute(agent: Agent, proxy: Proxy): (pathname: string, res: ServerResponse) => Promise<boolean> {
  return async (pathname, res) => {
    if (pathname === '/api/v1/backends') return send(res, 200, Object.fromEntries(await liveServersOfAll(agent, proxy)));
    const m = /^\/api\/v1\/subscriptions\/([^/]+)\/backends$/.exec(pathname);
    if (!m) return false;
    const name = decodeURIComponent(m[1]!);
    if (!agent.manifests.get(keyOf('Subscription', name))) return send(res, 404, { error: `subscription "${name}" not found` });
    const servers = await liveServers(proxy, name);
    return servers ? send(res, 200, servers) : send(res, 504, { error: `reading the servers of ${name} from the proxy: no answer within 2 s` });
  };
}

function send(res: ServerResponse, code: number, body: unknown): true {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
  return true;
}
