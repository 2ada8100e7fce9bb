/**
 * Ticks while any server drains, so its slot is freed once its sessions are gone or its drain time
 * is up. The owner supplies the tick (it needs the listener model and the runtime API).
 */
export class DrainTracker {
  private timer: NodeJS.Timeout | undefined;

  /** `tick` resolves whether drains remain. */
  constructor(
    private readonly tick: () => Promise<boolean>,
    private readonly everyMs = 500,
  ) {}

  /** A drain started: tick until none remain. */
  watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.tick().then(
        (more) => {
          if (!more) this.stop();
        },
        () => undefined,
      );
    }, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
