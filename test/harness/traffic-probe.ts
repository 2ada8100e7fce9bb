/**
 * Continuous client traffic during a fault: a fresh request every `intervalMs` (by default a
 * connection through a local listener), each asking which backend answers. Bounded by `maxMs`; stop() returns the tally.
 */
import { whoAnswers } from './backends.ts';

export interface ProbeResult {
  readonly ok: number;
  readonly failed: number;
  readonly backends: ReadonlySet<string>;
  readonly errors: readonly string[];
}

export interface TrafficProbe {
  /** What was seen so far (probing goes on). */
  counts(): ProbeResult;
  /** Stop probing and return what was seen. */
  stop(): Promise<ProbeResult>;
}

export function probeTraffic(port: number, opts: { intervalMs?: number; maxMs?: number } = {}): TrafficProbe {
  return probe(() => whoAnswers(port), opts);
}

/** Call `ask` every `intervalMs` (one at a time) until stopped or `maxMs`; each answer names who served it. */
export function probe(ask: () => Promise<string>, opts: { intervalMs?: number; maxMs?: number } = {}): TrafficProbe {
  let ok = 0;
  let failed = 0;
  const backends = new Set<string>();
  const errors: string[] = [];
  let stopped = false;
  const deadline = Date.now() + (opts.maxMs ?? 300_000);
  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      try {
        backends.add(await ask());
        ok++;
      } catch (err) {
        failed++;
        if (errors.length < 10) errors.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      // Unref'd: a probe a failed test never stopped does not hold its file's process open.
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50).unref());
    }
  })();
  return {
    counts: () => ({ ok, failed, backends, errors }),
    async stop() {
      stopped = true;
      await loop;
      return { ok, failed, backends, errors };
    },
  };
}
