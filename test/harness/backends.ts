/**
 * Small loopback servers for proxy tests that identify themselves, plus clients that ask through a
 * proxy which backend answered.
 */
import { createServer as createHttpServer } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A running test server on 127.0.0.1. */
export interface TestBackend {
  readonly name: string;
  readonly port: number;
  /** Open client connections right now. */
  readonly open: () => number;
  close(): Promise<void>;
}

function track(server: Server, name: string): TestBackend {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('test backend is not listening');
  return {
    name,
    port: addr.port,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const listen = (server: Server, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

/** TCP server that greets every connection with "<name>\n" and then echoes what it receives. */
export async function startTcpBackend(name: string, port = 0): Promise<TestBackend> {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.write(`${name}\n`);
    s.pipe(s);
  });
  await listen(server, port);
  return track(server, name);
}

/** HTTP server answering every request with 200 and body "<name>". */
export async function startHttpBackend(name: string, port = 0): Promise<TestBackend> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(name);
  });
  await listen(server, port);
  return track(server, name);
}

/** A connection through `port` that has read the backend's greeting line. */
export interface OpenConnection {
  readonly backend: string;
  /** Send `text` and resolve with the echo. */
  echo(text: string, timeoutMs?: number): Promise<string>;
  readonly closed: () => boolean;
  close(): void;
}

/** Connect to 127.0.0.1:`port` and wait for the greeting (bounded). */
export function connectThrough(port: number, timeoutMs = 2000): Promise<OpenConnection> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(port, '127.0.0.1');
    let buf = '';
    let closed = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no greeting through port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      closed = true;
      clearTimeout(timer);
      reject(new Error(`connection through port ${port} closed before a greeting`));
    });
    const onGreeting = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.off('data', onGreeting);
      resolve({
        backend: buf.slice(0, nl),
        closed: () => closed,
        close: () => sock.destroy(),
        echo: (text, echoTimeoutMs = 2000) =>
          new Promise((res, rej) => {
            let got = '';
            const t = setTimeout(() => rej(new Error(`no echo within ${echoTimeoutMs} ms`)), echoTimeoutMs);
            const onData = (x: Buffer) => {
              got += x.toString();
              if (got.length >= text.length) {
                clearTimeout(t);
                sock.off('data', onData);
                res(got);
              }
            };
            sock.on('data', onData);
            sock.write(text);
          }),
      });
    };
    sock.on('data', onGreeting);
  });
}

/** Which backend answers a fresh connection through `port`. */
export async function whoAnswers(port: number): Promise<string> {
  const c = await connectThrough(port);
  c.close();
  return c.backend;
}

/** The set of backends answering `n` fresh connections through `port` (n bounded by the caller). */
export async function answering(port: number, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(await whoAnswers(port));
  return seen;
}
