/**
 * V8 heap policy for the agent process: long-running, idle between bursts (the initial sync, a big
 * change), on every host, so what it keeps resident after a burst is the cost that counts. Set at
 * run time through node:v8, so every way of starting the agent gets it (the bin, `npm start`, the
 * image, a supervisor's own `node …` line); an embedder of startAgent() keeps its own heap policy.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The young generation stays at its initial 1 MiB semi-spaces instead of growing to 16 MiB each
 * (32 MiB kept resident after any burst). bin/dockstack.js sets it before anything loads, which is
 * what matters: set there, an idle agent with 100 manifests went from 85 to 70–73 MiB RSS; set only
 * here (for `npm start`), 77 MiB.
 */
export const YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';

const CHECK_MS = 2000;
/** Under this share of one core over a check, the process is quiet. */
const QUIET_CPU = 0.05;
/** Growth of the heap since the last collection that is worth one. */
const GROWTH_BYTES = 16 * 1024 * 1024;

/**
 * Collect once the process has gone quiet after a burst: the heap has grown GROWTH_BYTES since the
 * last collection and the last CHECK_MS used under QUIET_CPU of a core. V8's memory reducer gives a
 * burst's garbage back 8–12 s after it, or not at all. Three full GCs, as V8's last-resort collection
 * does: measured at 10,000 instances, one left 60–76 MiB of heap committed for 37 MiB live, three
 * 44–47 MiB; compacting ones (--compact-on-every-full-gc) reached 40 MiB but raised the peak RSS by
 * 30–40 MiB while copying. A busy process is left to V8, so a sync or a change is not slowed.
 * Returns stop().
 */
export function tuneAgentHeap(): () => void {
  setFlagsFromString(YOUNG_GENERATION_FLAG);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  let floor = getHeapStatistics().total_heap_size;
  let collected = false;
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const total = getHeapStatistics().total_heap_size;
    if (collected) [floor, collected] = [total, false];
    else if (total > floor + GROWTH_BYTES && (used.user + used.system) / 1000 < QUIET_CPU * CHECK_MS) {
      collected = true;
      for (let i = 0; i < 3; i++) gc();
    }
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
