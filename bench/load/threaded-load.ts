/** Start an HTTP load in a worker thread (load-worker.ts); stop it, or await it reaching its count. */
import { Worker } from 'node:worker_threads';
import type { LoadStats } from './http-load.ts';

export interface ThreadedLoad {
  /** Resolves with the stats once the load ended (count reached, maxMs passed, or stop()). */
  readonly finished: Promise<LoadStats>;
  stop(): void;
}

export function startLoad(job: { kind: 'short' | 'keep-alive'; port: number; workers: number; maxMs: number; count?: number }): ThreadedLoad {
  // Node 20 resolves a worker's entry before `--import tsx` hooks apply, so register tsx first.
  const entry = JSON.stringify(new URL('./load-worker.ts', import.meta.url).href);
  const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${entry}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { count: 0, ...job } });
  const finished = new Promise<LoadStats>((resolve, reject) => {
    worker.once('message', (m: { ok: number; failed: number; errors: [string, number][]; latencies: Float64Array }) => {
      resolve({ ok: m.ok, failed: m.failed, errors: new Map(m.errors), latencies: Array.from(m.latencies) });
      void worker.terminate(); // tsx's loader thread would keep it (and so the bench) alive
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`load worker exited with ${code} before reporting`)));
  });
  finished.catch(() => undefined); // callers see the rejection; an unawaited one must not crash the run
  return { finished, stop: () => worker.postMessage('stop') };
}
