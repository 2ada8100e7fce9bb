/**
 * `dockstack agent` as a separate process, as it runs in production: its memory is its own (VmRSS
 * from /proc, heap from bench/load/memory-probe.mjs over IPC), its readiness read from its status API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const PROBE = fileURLToPath(new URL('./memory-probe.mjs', import.meta.url));

export interface AgentProcess {
  readonly child: ChildProcess;
  /** VmRSS, VmHWM (peak) and V8 heap used, in MiB. */
  memory(): Promise<AgentMemory>;
  /** Poll (every 200 ms, bounded) until every object the status API lists satisfies `ok`. */
  until(ok: (objects: readonly StatusObject[]) => boolean, timeoutMs: number): Promise<void>;
  /** SIGTERM (deregisters, stops HAProxy); SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export interface StatusObject {
  readonly kind: string;
  readonly status: { conditions: { type: string; status: string }[]; details: Record<string, unknown> };
}

export interface AgentMemory {
  readonly rssMiB: number;
  readonly peakMiB: number;
  readonly heapUsedMiB: number;
}

export const allReady = (objects: readonly StatusObject[], n: number): boolean =>
  objects.length === n && objects.every((o) => o.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));

/** Start `bin` (an installed bin/dockstack.js) as `dockstack agent … args`. */
export function spawnAgent(bin: string, args: readonly string[], statusAddr: string): AgentProcess {
  const child = spawn(process.execPath, [bin, 'agent', '--status-addr', statusAddr, '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: `--import ${PROBE}` },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const get = async (kind: string): Promise<StatusObject[]> => (await (await fetch(`http://${statusAddr}/api/v1/${kind}`)).json()) as StatusObject[];
  return {
    child,
    async memory() {
      const text = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
      const heap = await new Promise<NodeJS.MemoryUsage>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no memory answer from the agent within 5 s')), 5000);
        child.once('message', (m) => (clearTimeout(timer), resolve(m as NodeJS.MemoryUsage)));
        child.send('memory');
      });
      return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024, heapUsedMiB: heap.heapUsed / 1048576 };
    },
    async until(ok, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer';
      while (Date.now() < deadline) {
        if (gone()) throw new Error(`agent exited (${child.exitCode ?? child.signalCode}): ${stderr}`);
        try {
          const objects = [...(await get('services')), ...(await get('subscriptions'))];
          if (ok(objects)) return;
          last = `${objects.length} objects, ${objects.filter((o) => allReady([o], 1)).length} Ready`;
        } catch (err) {
          last = String(err);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`agent not ready within ${timeoutMs} ms (${last}); stderr: ${stderr}`);
    },
    async stop() {
      if (gone()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
