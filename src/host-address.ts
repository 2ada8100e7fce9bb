/**
 * The address a Service registers when its spec has no host. `--host` may name an address (used
 * as is), an interface (`eth0`: its first IPv4 address, re-read on every reconcile so a changed
 * address is picked up), or be unset: then it is the local address of the route to the registry,
 * the address other hosts reach this one at (127.0.0.1 for memory:// or a loopback registry).
 */
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface HostAddress {
  /** The address to register now, or undefined when none is known (an interface without IPv4). */
  current(): string | undefined;
  /** How it was chosen, for the start log line and `describe`: "10.0.0.5 (route to zk 10.0.0.9:2181)". */
  describe(): string;
  /** True when a loopback address would be wrong: the registry is reached over a non-loopback address. */
  readonly remoteRegistry: boolean;
  /** Re-learn the route (after a registry reconnect); a no-op for a fixed address or an interface. */
  refresh(): Promise<void>;
}

export const isLoopback = (addr: string): boolean => /^127\./.test(addr) || addr === '::1' || addr === 'localhost' || /^::ffff:127\./.test(addr);

/** The registry's servers ("host:port") named by a registry URL; none for memory://. */
export function registryEndpoints(url: string): { host: string; port: number }[] {
  const m = /^(?:zk|etcds?):\/\/([^/]*)/.exec(url);
  if (!m) return [];
  return m[1]!.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) };
  });
}

/** Build the HostAddress for `flag` (an address, an interface name, or undefined) and the registry's `endpoints`. */
export async function hostAddress(flag: string | undefined, endpoints: readonly { host: string; port: number }[]): Promise<HostAddress> {
  const remoteRegistry = endpoints.some((e) => !isLoopback(e.host));
  if (flag !== undefined && flag !== '' && networkInterfaces()[flag]) {
    return { current: () => interfaceAddress(flag), describe: () => `${interfaceAddress(flag) ?? 'none'} (interface ${flag})`, remoteRegistry, refresh: async () => undefined };
  }
  if (flag !== undefined && flag !== '') return { current: () => flag, describe: () => `${flag} (--host)`, remoteRegistry, refresh: async () => undefined };
  let chosen = { addr: '127.0.0.1', why: 'loopback registry' };
  const learn = async (): Promise<void> => {
    for (const e of endpoints.filter((x) => !isLoopback(x.host))) {
      const addr = await routeSource(e.host, e.port).catch(() => undefined);
      if (addr) return void (chosen = { addr, why: `route to registry ${e.host}:${e.port}` });
    }
  };
  await learn();
  return { current: () => chosen.addr, describe: () => `${chosen.addr} (${chosen.why})`, remoteRegistry, refresh: learn };
}

/** First IPv4 address of interface `name`, read now. */
function interfaceAddress(name: string): string | undefined {
  return networkInterfaces()[name]?.find((a) => a.family === 'IPv4')?.address;
}

/**
 * The local address the kernel picks to reach host:port: a UDP socket's connect() only looks the
 * route up and sends nothing, so this costs no traffic and works while the registry is down.
 */
function routeSource(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    sock.once('error', (err) => {
      sock.close();
      reject(err);
    });
    sock.connect(port, host, () => {
      const { address } = sock.address();
      sock.close();
      resolve(address);
    });
  });
}
