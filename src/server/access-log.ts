/**
 * Access logs: HAProxy sends one UDP datagram per connection (tcp) or request (http) to a socket
 * on 127.0.0.1 that the agent reads, and each becomes one structured line in the agent's log
 * stream (msg "access"). UDP, because HAProxy must never wait for the agent: when the agent falls
 * behind, the kernel's receive buffer fills and further datagrams are dropped there; the agent also
 * logs at most `maxPerSecond` lines a second and counts the rest, reporting how many it dropped in
 * one warning per second. Lines are never queued in the agent beyond that.
 */
import { createSocket, type Socket } from 'node:dgram';
import { Counter, type Registry } from './prom.ts';
import type { Logger } from '../log.ts';

/** One access-log line's fields (see ACCESS_LOG_FORMAT in src/haproxy/config-render.ts). */
export interface AccessRecord {
  readonly subscription: string;
  readonly client: string;
  /** HAProxy's server slot ("s1") and the address it routed to; "<NOSRV>" when none was chosen. */
  readonly slot: string;
  readonly server: string;
  readonly queueMs: number;
  readonly connectMs: number;
  readonly totalMs: number;
  /** Bytes sent to the client, and received from it. */
  readonly bytesOut: number;
  readonly bytesIn: number;
  /** HAProxy's two-letter termination state: "--" normal, "CD" client aborted in data, "SC" server refused… */
  readonly termination: string;
  readonly status?: number;
  readonly requestMs?: number;
  readonly method?: string;
  readonly uri?: string;
}

const LINE_RE = /^(\S+) (\S+) (\S+) (\S+) (-?\d+) (-?\d+) (-?\d+) (\d+) (\d+) (\S{2})(?: (-?\d+) (-?\d+) (\S+) "(.*)")?$/;

/** Parse one datagram's text; undefined when it is not a DockStack access-log line. */
export function parseAccessLine(text: string): AccessRecord | undefined {
  const m = LINE_RE.exec(text.trim());
  if (!m) return undefined;
  const n = (i: number) => Number(m[i]);
  return {
    // %f is the frontend (`_fe_NAME`, FRONTEND_PREFIX in config-render.ts), not %b: a request refused
    // before a backend was chosen (400, 408) logs the frontend as its backend too. A line from a
    // worker of an older config (`listen NAME`) has no prefix.
    subscription: m[1]!.replace(/^_fe_/, ''), client: m[2]!, slot: m[3]!, server: m[4]!,
    queueMs: n(5), connectMs: n(6), totalMs: n(7), bytesOut: n(8), bytesIn: n(9), termination: m[10]!,
    ...(m[11] !== undefined && { status: n(11), requestMs: n(12), method: m[13]!, uri: m[14]! }),
  };
}

export interface AccessLogOptions {
  readonly log: Logger;
  readonly maxPerSecond?: number;
  /** Kernel receive buffer for datagrams not yet read (default 1 MiB). */
  readonly receiveBufferBytes?: number;
  readonly onRecord?: (r: AccessRecord) => void;
}

export class AccessLogReceiver {
  private socket: Socket | undefined;
  private windowStart = 0;
  private inWindow = 0;
  private dropped = 0;
  /** Lines logged and dropped (rate bound) since start. */
  readonly counts = { logged: 0, dropped: 0 };

  constructor(private readonly opts: AccessLogOptions) {}

  /** Bind 127.0.0.1 on a free port; resolves "127.0.0.1:PORT" for the HAProxy config. */
  async start(): Promise<string> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: this.opts.receiveBufferBytes ?? 1 << 20 });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.opts.log.warn({ err: err.message }, 'access log socket error'));
    socket.on('message', (msg) => this.receive(msg.toString('utf8')));
    socket.unref(); // never what keeps the process alive
    return `127.0.0.1:${socket.address().port}`;
  }

  /** Serve the counts as dockstack_access_log_lines_total{result="logged"|"dropped"} on `registry`. */
  register(registry: Registry): void {
    const self = this;
    new Counter({
      name: 'dockstack_access_log_lines_total', help: 'Access-log lines logged, and dropped by the per-second bound (the kernel drops more when the socket buffer is full)', labelNames: ['result'], registers: [registry],
      collect() {
        this.reset();
        this.inc({ result: 'logged' }, self.counts.logged);
        this.inc({ result: 'dropped' }, self.counts.dropped);
      },
    });
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private receive(text: string): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      if (this.dropped) this.opts.log.warn({ dropped: this.dropped }, 'access log: lines dropped (more than the per-second bound)');
      this.windowStart = now;
      this.inWindow = 0;
      this.dropped = 0;
    }
    const r = parseAccessLine(text);
    if (!r) return;
    if (++this.inWindow > (this.opts.maxPerSecond ?? 2000)) {
      this.dropped++;
      this.counts.dropped++;
      return;
    }
    this.counts.logged++;
    this.opts.onRecord?.(r);
    this.opts.log.info(r, 'access');
  }
}
