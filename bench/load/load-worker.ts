/**
 * Runs one HTTP load (http-load.ts) in a worker thread, so the client's event loop does not share a
 * thread with the agent under test. Protocol: workerData = the options; the parent posts "stop";
 * the worker posts the final stats (errors as entries) and exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { keepAliveRequests, newStats, shortConnections } from './http-load.ts';

interface Job {
  kind: 'short' | 'keep-alive';
  port: number;
  workers: number;
  maxMs: number;
  /** Stop on its own after this many requests (0: only on "stop"). */
  count: number;
}

const job = workerData as Job;
let stopped = false;
parentPort?.on('message', (m) => (stopped ||= m === 'stop'));
const stats = newStats();
const opts = { port: job.port, workers: job.workers, maxMs: job.maxMs, stop: () => stopped || (job.count > 0 && stats.ok + stats.failed >= job.count) };
await (job.kind === 'short' ? shortConnections(opts, stats) : keepAliveRequests(opts, stats));
parentPort?.postMessage({ ok: stats.ok, failed: stats.failed, errors: [...stats.errors], latencies: Float64Array.from(stats.latencies) });
