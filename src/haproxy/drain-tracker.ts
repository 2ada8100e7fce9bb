/**
 * Draining servers: a removed server stops taking new connections, and its slot is freed once its
 * sessions are gone or its drain time is up (a dynamic server is then deleted). While any server
 * drains a tick runs; it reads the stats of the draining servers only.
 */
import { slotName } from './config-render.ts';
import { setSlot, shapeOf, trimSlots, type ListenerModel } from './listener-model.ts';
import { runAdminBatch, serverStats } from './runtime-api.ts';
import { freeOps } from './slot-plan.ts';
import type { StatsGuard } from './stats-guard.ts';

// Past this many draining servers one whole-backend dump is cheaper than a command per server.
const PER_SERVER_READS = 256;

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

/** Free the draining servers of `model` that have no sessions left or whose drain time is up; resolves whether drains remain. */
export async function finishDrains(model: ListenerModel, socket: string, stats: StatsGuard, now: number, lua: boolean): Promise<boolean> {
  let more = false;
  for (const [name, st] of model) {
    if (!st.live || st.draining.size === 0) continue;
    const draining = [...st.draining].sort((a, b) => a - b);
    const rows = await stats.read(() => serverStats(socket, name, draining.length <= PER_SERVER_READS ? draining.map((i) => i + 1) : undefined));
    const ops: string[] = [];
    const freed: number[] = [];
    for (const i of draining) {
      const s = st.slots[i]!;
      const idle = rows.get(slotName(i))?.scur === '0';
      if (!idle && now < (s.drainUntil ?? 0)) {
        more = true;
        continue;
      }
      // A dynamic server with sessions cannot be deleted: cut them, delete on the next tick.
      if (!idle && i >= st.rendered) {
        ops.push(`shutdown sessions server ${name}/${slotName(i)}`);
        more = true;
        continue;
      }
      ops.push(...freeOps(shapeOf(name, st, lua), i));
      freed.push(i);
    }
    const send = () => runAdminBatch(socket, ops);
    const refused = ops.some((o) => o.startsWith('del server ')) ? await stats.exclusive(send) : await send();
    const failed = new Set(refused.map((r) => r.command));
    for (const i of freed) if (!failed.has(`del server ${name}/${slotName(i)}`)) setSlot(st, i, undefined);
    if (failed.size) more = true;
    trimSlots(st);
  }
  return more;
}
