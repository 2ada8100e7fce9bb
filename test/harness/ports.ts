import { createServer, type AddressInfo, type Server } from 'node:net';

/**
 * Ports this process has handed out. A port handed to something that does not bind it (the memory
 * proxy, a listener not yet started) is free again at once, and the OS may pick it for the next
 * caller: two tests would then share a port they both believe is theirs.
 */
const handedOut = new Set<string>();

/** An ephemeral loopback port that was free a moment ago (the OS picks it), never one handed out before in this process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/** `n` distinct ephemeral loopback ports: every socket stays bound until all are picked, so the OS cannot hand one out twice. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  const picked: number[] = [];
  try {
    for (let tries = 0; picked.length < n; tries++) {
      if (tries >= n + 1000) throw new Error(`freePorts: no ${n} fresh ports on ${host} after ${tries} binds`);
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => (srv.once('error', reject), srv.listen(0, host, () => resolve())));
      const port = (srv.address() as AddressInfo).port;
      if (handedOut.has(`${host}:${port}`)) continue;
      handedOut.add(`${host}:${port}`);
      picked.push(port);
    }
    return picked;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
