/**
 * Progress of the initial sync, for operators watching a large manifests directory or registry
 * path come up: "initial sync: N/M objects ready" at info level while it moves, then one
 * "initial sync complete" line once every object has been reconciled at its current generation.
 */
import type { Agent } from '../agent.ts';
import type { Logger } from '../log.ts';

export interface SyncCounts {
  readonly total: number;
  /** Reconciled at least once at the current generation. */
  readonly synced: number;
  readonly ready: number;
}

/** Count the objects in force and how far their reconciliation got. */
export function syncCounts(agent: Agent): SyncCounts {
  let synced = 0;
  let ready = 0;
  const keys = agent.manifests.keys();
  for (const key of keys) {
    const st = agent.status.get(key);
    if (st?.observedGeneration !== undefined && st.observedGeneration === agent.manifests.get(key)?.generation) synced++;
    if (agent.status.condition(key, 'Ready')?.status === 'True') ready++;
  }
  return { total: keys.length, synced, ready };
}

/** Every object in force (counted in `c`) reconciled at its current generation, and nothing queued. */
const syncDone = (agent: Agent, c: SyncCounts): boolean => c.synced === c.total && agent.queue.depth === 0;

export interface Readiness {
  readonly ready: boolean;
  /** What start-up still waits for, when not ready. */
  readonly waiting?: 'start-up' | 'initial sync';
  readonly counts?: SyncCounts;
}

/**
 * GET /readyz: ready once `started()` (HAProxy running, the agent started) and the initial sync is
 * done; latched from then on, since an agent that later loses its registry keeps serving what it has
 * (fail static). /healthz only says the process answers, from before HAProxy has started.
 */
export function initialSyncReadiness(agent: Agent, started: () => boolean): () => Readiness {
  let ready = false;
  return () => {
    if (ready) return { ready };
    if (!started()) return { ready, waiting: 'start-up' };
    const counts = syncCounts(agent);
    ready = syncDone(agent, counts);
    return ready ? { ready } : { ready, waiting: 'initial sync', counts };
  };
}

/**
 * Check every `checkMs` until synced (or `maxMs` passes), logging progress at most every
 * `intervalMs`; returns a cancel function. Checked often so "complete" is logged when it happens
 * (a check each second delayed it by up to a second, more than a small directory's whole sync).
 */
export function reportInitialSync(agent: Agent, log: Logger, opts: { intervalMs?: number; checkMs?: number; maxMs?: number } = {}): () => void {
  const started = Date.now();
  const maxMs = opts.maxMs ?? 120_000;
  let last = '';
  let lastAt = started;
  const tick = (): boolean => {
    const c = syncCounts(agent);
    if (syncDone(agent, c)) {
      log.info({ ...c, durationMs: Date.now() - started }, `initial sync complete: ${c.ready}/${c.total} objects ready`);
      return true;
    }
    if (Date.now() - started > maxMs) {
      log.warn({ ...c }, `initial sync incomplete after ${Math.round(maxMs / 1000)}s: ${c.synced}/${c.total} objects reconciled`);
      return true;
    }
    const line = `initial sync: ${c.ready}/${c.total} objects ready`;
    if (line !== last && Date.now() - lastAt >= (opts.intervalMs ?? 1000)) {
      log.info({ ...c }, line);
      [last, lastAt] = [line, Date.now()];
    }
    return false;
  };
  const timer = setInterval(() => {
    if (tick()) clearInterval(timer);
  }, opts.checkMs ?? 50);
  timer.unref();
  return () => clearInterval(timer);
}
