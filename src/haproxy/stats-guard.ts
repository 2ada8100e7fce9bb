/**
 * Keeps stats dumps and `del server` apart. Measured: HAProxy 2.6.12's worker segfaulted (exit 139)
 * while `show stat` dumped a backend whose dynamic servers were being deleted (10,000 → 5,000
 * with a dump every 2 ms); never with either alone. Reads share; a delete waits for the reads in
 * flight and holds new ones back until it is done.
 */
export class StatsGuard {
  private readonly reads = new Set<Promise<unknown>>();
  private deleting: Promise<void> | undefined;

  /** Run a stats read, after any delete under way. */
  async read<T>(fn: () => Promise<T>): Promise<T> {
    while (this.deleting) await this.deleting;
    const p = fn();
    this.reads.add(p);
    try {
      return await p;
    } finally {
      this.reads.delete(p);
    }
  }

  /** Run commands that delete servers, alone. Callers are already serialised among themselves. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    let done!: () => void;
    this.deleting = new Promise<void>((r) => (done = r));
    try {
      await Promise.allSettled([...this.reads]);
      return await fn();
    } finally {
      this.deleting = undefined;
      done();
    }
  }
}
