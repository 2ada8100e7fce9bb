/**
 * A backend "host" as a separate process, so a benchmark can SIGKILL it: an HTTP server answering
 * its name on 127.0.0.1, optionally registering itself in a registry like that host's agent would.
 * Usage: backend-host.ts NAME [REGISTRY_URL PATH TTL_MS]. Prints {"port":N} once serving.
 */
import { createServer } from 'node:http';

const [name = 'backend', url, path, ttl] = process.argv.slice(2);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(name);
});
server.listen(0, '127.0.0.1', async () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  if (url && path) {
    const ttlMs = Number(ttl ?? 2000);
    // Imported only when needed: the registry clients take seconds to load on a busy machine.
    const { createRegistry } = await import('../../src/registry/create-registry.ts');
    const reg = await createRegistry({ url, sessionTimeoutMs: ttlMs, leaseTtlSec: Math.max(1, Math.round(ttlMs / 1000)) });
    await reg.register(path, { host: '127.0.0.1', port, name });
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
