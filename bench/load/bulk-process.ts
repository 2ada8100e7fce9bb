/**
 * The bulk writer (bulk-instances.ts) in a process of its own, so that the bench process's CPU is
 * the agent's alone: its writes (2 % of 10,000 per change, etcd's through gRPC) cost about as
 * much as the agent's work did. Requests and answers are JSON lines on the child's stdin/stdout;
 * times cross the boundary as wall-clock epochs and come back on the parent's now() clock.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bulkEtcd, bulkZooKeeper, type BulkInstances } from './bulk-instances.ts';

const FILE = fileURLToPath(import.meta.url);
const epoch = (t: number) => performance.timeOrigin + t;

type Request = { id: number; op: 'rawRead' | 'replace' | 'resize' | 'close'; k?: number };

/** Start the writer for `kind` at `target` and write `n` instances under `path`. */
export function spawnBulk(kind: 'zookeeper' | 'etcd', target: string, path: string, n: number): Promise<BulkInstances> {
  const child = spawn(process.execPath, ['--import', 'tsx', FILE, kind, target, path, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  const call = <T>(op: Request['op'], k?: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.stdin.write(`${JSON.stringify({ id, op, k })}\n`);
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`bulk writer exited with ${code}`));
      for (const p of pending.values()) p.reject(new Error(`bulk writer exited with ${code}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: { writeMs: number }; id?: number; result?: unknown; error?: string };
      if (m.ready) {
        resolve({
          writeMs: m.ready.writeMs,
          rawRead: () => call('rawRead'),
          replace: async (k) => {
            const r = await call<{ added: string[]; removed: string[]; writtenAtEpoch: number }>('replace', k);
            return { added: r.added, removed: r.removed, writtenAt: r.writtenAtEpoch - performance.timeOrigin };
          },
          resize: (k) => call('resize', k),
          close: async () => {
            await call('close');
            child.stdin.end();
          },
        });
        return;
      }
      const p = pending.get(m.id!);
      pending.delete(m.id!);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.result);
    });
  });
}

async function main(): Promise<void> {
  const [kind, target, path, n] = process.argv.slice(2) as [string, string, string, string];
  const b = kind === 'zookeeper' ? await bulkZooKeeper(target, path, Number(n)) : await bulkEtcd(target, '/dockstack', path, Number(n));
  const out = (m: unknown) => process.stdout.write(`${JSON.stringify(m)}\n`);
  out({ ready: { writeMs: b.writeMs } });
  for await (const line of createInterface({ input: process.stdin })) {
    const r = JSON.parse(line) as Request;
    try {
      if (r.op === 'rawRead') out({ id: r.id, result: await b.rawRead() });
      else if (r.op === 'replace') {
        const { added, removed, writtenAt } = await b.replace(r.k!);
        out({ id: r.id, result: { added, removed, writtenAtEpoch: epoch(writtenAt) } });
      } else if (r.op === 'resize') out({ id: r.id, result: await b.resize(r.k!) });
      else {
        await b.close();
        out({ id: r.id, result: null });
        process.exit(0);
      }
    } catch (err) {
      out({ id: r.id, error: String(err) });
    }
  }
}

if (process.argv[1] === FILE) void main();
