import { createServer, connect, type Socket } from 'node:net';

/** A loopback TCP proxy in front of `targetPort`, able to cut a client off its server on demand. */
export interface TcpProxy {
  readonly port: number;
  /** Destroy every open connection and refuse (reset) new ones until `restore()`. */
  cut(): void;
  /** Stop forwarding without closing anything: a silent partition (both ends keep waiting). */
  freeze(): void;
  restore(): void;
  close(): Promise<void>;
}

/** Start a proxy on an ephemeral 127.0.0.1 port forwarding to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let isCut = false;
  const pipes = new Set<[Socket, Socket]>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (isCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const pair: [Socket, Socket] = [client, upstream];
    pipes.add(pair);
    client.on('close', () => pipes.delete(pair));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (typeof addr !== 'object' || addr === null) throw new Error('tcp proxy: no address');
  const destroyAll = (): void => {
    for (const s of sockets) s.destroy();
  };
  return {
    port: addr.port,
    cut() {
      isCut = true;
      destroyAll();
    },
    freeze() {
      server.close();
      for (const [a, b] of pipes) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    restore() {
      isCut = false;
    },
    async close() {
      destroyAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
