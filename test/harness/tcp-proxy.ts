import { createServer, connect, type Socket } from 'node:net';

/** A loopback TCP proxy in front of `targetPort`, able to cut a client off its server on demand. */
export interface TcpProxy {
  readonly port: number;
  /** Destroy every open connection and refuse (reset) new ones until `restore()`. */
  cut(): void;
  /**
   * A silent partition, as iptables DROP makes one: open connections stay open but nothing passes
   * either way, and new ones are accepted and never answered, until `restore()` (connections
   * silenced meanwhile stay silent: their peers have given up on them by then).
   */
  blackhole(): void;
  restore(): void;
  /** Client connections open now (silenced ones included). */
  connections(): number;
  /** Bytes forwarded so far, both ways. */
  bytes(): number;
  close(): Promise<void>;
}

/** Start a proxy on an ephemeral 127.0.0.1 port forwarding to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const clients = new Map<Socket, Socket | undefined>();
  const silenced = new WeakSet<Socket>();
  let mode: 'open' | 'cut' | 'silent' = 'open';
  let forwarded = 0;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const silence = (client: Socket, upstream: Socket | undefined): void => {
    silenced.add(client);
    client.unpipe();
    upstream?.unpipe();
    // Read and discard, so neither side sees back-pressure or an end (not even the other's close).
    client.on('data', () => {});
    upstream?.on('data', () => {});
  };
  const server = createServer((client) => {
    track(client);
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    clients.set(client, undefined);
    client.on('close', () => clients.delete(client));
    if (mode === 'silent') return silence(client, undefined);
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    clients.set(client, upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const count = (d: Buffer): void => {
      if (!silenced.has(client)) forwarded += d.length;
    };
    client.on('data', count);
    upstream.on('data', count);
    client.on('close', () => !silenced.has(client) && upstream.destroy());
    upstream.on('close', () => !silenced.has(client) && client.destroy());
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
      mode = 'cut';
      destroyAll();
    },
    blackhole() {
      mode = 'silent';
      for (const [client, upstream] of clients) silence(client, upstream);
    },
    restore() {
      mode = 'open';
    },
    connections: () => clients.size,
    bytes: () => forwarded,
    async close() {
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
