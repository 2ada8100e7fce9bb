/** Spawn backend-host.ts as a child process and wait (bounded) for its port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface HostProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
}

const FILE = fileURLToPath(new URL('./backend-host.ts', import.meta.url));

export function spawnHost(name: string, register?: { url: string; path: string; ttlMs: number }): Promise<HostProcess> {
  const args = ['--import', 'tsx', FILE, name, ...(register ? [register.url, register.path, String(register.ttlMs)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const kill = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => void kill().then(() => reject(new Error(`backend host ${name} did not start within 20 s`))), 20_000);
    child.once('exit', (code) => reject(new Error(`backend host ${name} exited with ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({ name, port: Number(m[1]), child, kill });
    });
  });
}
