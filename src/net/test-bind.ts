/** Whether this process could listen on an address right now: the check that runs before a proxy is asked to. */
import { createServer } from 'node:net';

/** Resolves undefined when `host:port` can be bound (and releases it at once), else the errno code ("EADDRINUSE"). */
export function testBind(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}
