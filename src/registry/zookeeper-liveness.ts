/**
 * Connection liveness for node-zookeeper-client, which pings after a third of the session timeout
 * but never times out a read: over a link that drops packets silently (no RST) it stays
 * "connected" after the server has expired its session, and waits forever for a ConnectResponse.
 * This does what ZooKeeper's own client does: a connection with nothing read for 2/3 of the
 * negotiated session timeout, or an attempt unanswered for `connectTimeoutMs`, is dropped. The
 * library then reports DISCONNECTED and reconnects to the next server of the connect string, and
 * the session resumes there (or is found expired) as after any other connection loss.
 */
import zookeeper from 'node-zookeeper-client';
import type { Client } from 'node-zookeeper-client';

const { State } = zookeeper;

/** The parts of the library's private ConnectionManager this uses (node-zookeeper-client 1.1.x). */
interface ConnectionManager {
  socket?: { destroy(): void };
  /** The negotiated session timeout once connected (the requested one before). */
  sessionTimeout: number;
  onSocketData(buffer: Buffer): void;
  connect(): void;
}

export class ZkLiveness {
  private readonly cm: ConnectionManager;
  private lastRead = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** `onDrop` hears why a connection was dropped (for the log); call start() once the client connects. */
  constructor(private readonly raw: Client, private readonly connectTimeoutMs: number, private readonly onDrop: (why: string) => void) {
    this.cm = (raw as unknown as { connectionManager: ConnectionManager }).connectionManager;
    // Every socket the library opens binds this method when it connects, so wrapping it once sees
    // every byte of every connection (ping replies included) without touching the sockets.
    const onSocketData = this.cm.onSocketData;
    this.cm.onSocketData = (buffer: Buffer): void => {
      this.lastRead = performance.now();
      onSocketData.call(this.cm, buffer);
    };
    raw.on('state', (s) => {
      if (s === State.SYNC_CONNECTED) this.arm(this.readTimeoutMs(), () => this.checkRead());
      else if (s === State.DISCONNECTED) this.armConnect();
      else clearTimeout(this.timer);
    });
  }

  /** Start watching the first connection attempt. */
  start(): void {
    this.armConnect();
  }

  /** Stop for good; the library's socket is left to the caller. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Like ZooKeeper's ClientCnxn: the ping goes after 1/3 of idle time, so 2/3 without a byte means no reply. */
  private readTimeoutMs(): number {
    return Math.floor((this.cm.sessionTimeout * 2) / 3);
  }

  private checkRead(): void {
    if (this.raw.getState() !== State.SYNC_CONNECTED) return;
    const limit = this.readTimeoutMs();
    const idle = performance.now() - this.lastRead;
    if (idle < limit) return this.arm(limit - idle, () => this.checkRead());
    this.onDrop(`no reply from the server for ${Math.round(idle)} ms (read timeout ${limit} ms): dropping the connection to try the next server`);
    this.cm.socket?.destroy();
  }

  /**
   * The library waits forever for a ConnectResponse once TCP is up, and ZooKeeper 3.8 leaves
   * connections made just after its start unanswered: drop an attempt that takes too long.
   */
  private armConnect(): void {
    this.arm(this.connectTimeoutMs, () => {
      const s = this.raw.getState();
      if (s === State.SYNC_CONNECTED || s === State.EXPIRED) return;
      this.cm.socket?.destroy();
      this.armConnect();
    });
  }

  private arm(ms: number, fn: () => void): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(fn, ms);
    this.timer.unref();
  }
}
