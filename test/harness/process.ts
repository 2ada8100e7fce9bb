/**
 * Server processes for tests: spawned so that a test process dying without its after() hook never
 * leaves them running, stopped with a bound, and waited for with a deadline.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rm } from 'node:fs/promises';

/** Spawn `cmd` (stdio ignored unless `opts` says otherwise); it is SIGKILLed if this process exits first. */
export function spawnServer(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const p = spawn(cmd, args, { stdio: 'ignore', ...opts });
  const reap = (): void => void p.kill('SIGKILL');
  process.once('exit', reap);
  p.once('exit', () => process.off('exit', reap));
  return p;
}

/** True while `p` exists and has not exited. */
export function isRunning(p: ChildProcess | undefined): p is ChildProcess {
  return p !== undefined && p.exitCode === null && p.signalCode === null;
}

/** SIGTERM `p`, SIGKILL after `graceMs` (0: SIGKILL at once), and wait for it to exit. */
export async function killProcess(p: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  if (!isRunning(p)) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill(graceMs === 0 ? 'SIGKILL' : 'SIGTERM');
  const timer = graceMs === 0 ? undefined : setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Poll `ready` every `intervalMs` until it resolves true; fail early if `proc` exits, or at the deadline. */
export async function waitReady(what: string, ready: () => Promise<boolean>, opts: { proc?: ChildProcess; timeoutMs?: number; intervalMs?: number; hint?: string } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const hint = opts.hint ? `; ${opts.hint}` : '';
  while (!(await ready())) {
    if (opts.proc && opts.proc.exitCode !== null) throw new Error(`${what} exited with ${opts.proc.exitCode}${hint}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms${hint}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/** One server process that can be killed and relaunched on the same data, and removed with its dir. */
export interface RestartableServer {
  /** Stop the process, keep its data. */
  kill(): Promise<void>;
  /** Stop and launch again on the same ports and data. */
  restart(): Promise<void>;
  /** Stop the process and remove `root`. */
  stop(): Promise<void>;
}

/**
 * Start a server with `spawnIt`, wait for `ready`, and manage it; if the first start fails, the
 * process is killed and `root` removed before the error is rethrown.
 */
export async function startRestartable(root: string, spawnIt: () => ChildProcess, ready: (p: ChildProcess) => Promise<void>): Promise<RestartableServer> {
  let proc: ChildProcess | undefined;
  const kill = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    await killProcess(p);
  };
  const up = async (): Promise<void> => {
    proc = spawnIt();
    await ready(proc);
  };
  const stop = async (): Promise<void> => {
    await kill();
    await rm(root, { recursive: true, force: true });
  };
  try {
    await up();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kill,
    async restart() {
      await kill();
      await up();
    },
    stop,
  };
}
