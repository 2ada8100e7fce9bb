/**
 * Owns one HAProxy in master-worker mode (`-W -S master.sock -f haproxy.cfg -p haproxy.pid`):
 * validates configs, starts or adopts the master, reloads it through the master CLI and checks the
 * reload took, notices when it dies, stops it. It does not decide *when*: see HaproxyProxy.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, lstatSync, openSync, readFileSync } from 'node:fs';
import { openAppendNoFollow, READ_NOFOLLOW } from './state-dir.ts';
import { join } from 'node:path';
import { HaproxyError } from '../errors.ts';
import { parseShowProc, sendCommand, type ProcInfo } from './runtime-api.ts';

export interface HaproxyProcessOptions {
  readonly dir: string;
  readonly bin: string;
  /** Called once when the master is seen gone without stop() being asked. */
  readonly onDied?: (why: string) => void;
  /** How long start/reload may take before failing. */
  readonly readyTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether `pid` still runs. An exited process is signalable until its parent reaps it; an adopted
 * master's parent is init, which in a container may reap late or never, so a zombie counts as gone
 * (else stop() waits out its whole bound and a dead adopted master is never noticed).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true; // no procfs (or it just went): the signal said it was there
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** A HAProxy master process and its sockets under `dir`. */
export class HaproxyProcess {
  readonly configPath: string;
  readonly adminSocket: string;
  readonly masterSocket: string;
  readonly pidFile: string;
  readonly logFile: string;
  private masterPid: number | undefined;
  private monitor: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly opts: HaproxyProcessOptions) {
    this.configPath = join(opts.dir, 'haproxy.cfg');
    this.adminSocket = join(opts.dir, 'admin.sock');
    this.masterSocket = join(opts.dir, 'master.sock');
    this.pidFile = join(opts.dir, 'haproxy.pid');
    this.logFile = join(opts.dir, 'haproxy.log');
  }

  /** The master's pid while running. */
  get pid(): number | undefined {
    return this.masterPid;
  }

  /** Run `haproxy -c -f path`; throws HaproxyError carrying HAProxy's output when it rejects the file. */
  validate(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(this.opts.bin, ['-c', '-f', path], { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new HaproxyError(`validating ${path} with ${this.opts.bin} -c`, { output: `${stdout}${stderr}` || err.message, cause: err }));
        else resolve();
      });
    });
  }

  /** Adopt a master left by a previous run (pid file + live master CLI answering with that pid). */
  async adopt(): Promise<boolean> {
    let pid: number;
    try {
      pid = Number(readNoFollow(this.pidFile).toString('utf8').trim());
    } catch {
      return false;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return false;
    const procs = await this.showProc().catch(() => []);
    if (!procs.some((p) => p.type === 'master' && p.pid === pid)) return false;
    this.masterPid = pid;
    await this.waitForWorker([]);
    this.watch();
    return true;
  }

  /** Start a new master with the config at configPath; resolves once its worker answers the stats socket. */
  async start(): Promise<void> {
    this.stopping = false;
    const logFrom = this.logSize();
    const log = openAppendNoFollow(this.logFile);
    let exited: string | undefined;
    try {
      const child = spawn(
        this.opts.bin,
        ['-W', '-S', `${this.masterSocket},mode,600`, '-f', this.configPath, '-p', this.pidFile],
        { detached: true, stdio: ['ignore', log, log] },
      );
      child.unref();
      child.on('error', (err) => (exited = err.message));
      child.on('exit', (code, signal) => {
        exited = `exited with ${signal ?? `code ${code}`}`;
        this.check();
      });
      if (child.pid === undefined) await sleep(10);
      if (child.pid === undefined) throw new HaproxyError(`starting ${this.opts.bin}: ${exited ?? 'no pid'}`);
      this.masterPid = child.pid;
    } finally {
      closeSync(log);
    }
    try {
      await this.waitForWorker([], () => exited);
    } catch (err) {
      const pid = this.masterPid;
      this.masterPid = undefined;
      if (pid !== undefined && processAlive(pid)) process.kill(pid, 'SIGKILL');
      throw new HaproxyError(`starting HAProxy: ${(err as Error).message}`, { output: this.logSince(logFrom), cause: err });
    }
    this.watch();
  }

  /** Reload through the master CLI and verify a new worker took over; throws with HAProxy's log otherwise. */
  async reload(): Promise<void> {
    const logFrom = this.logSize();
    const before = await this.showProc();
    const master = before.find((p) => p.type === 'master');
    if (!master) throw new HaproxyError('reloading HAProxy: no master in "show proc"');
    await sendCommand(this.masterSocket, 'reload').catch(() => '');
    try {
      await this.waitForWorker(before, undefined, master);
    } catch (err) {
      throw new HaproxyError(`reloading HAProxy: ${(err as Error).message}`, { output: this.logSince(logFrom), cause: err });
    }
  }

  /** Stop the master (SIGTERM, then SIGKILL to its process group after a bound). */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.monitor) clearInterval(this.monitor);
    const pid = this.masterPid;
    this.masterPid = undefined;
    if (pid === undefined || !processAlive(pid)) return;
    process.kill(pid, 'SIGTERM');
    for (const deadline = Date.now() + timeoutMs; processAlive(pid) && Date.now() < deadline; ) await sleep(20);
    if (processAlive(pid)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        process.kill(pid, 'SIGKILL');
      }
    }
  }

  /** Release the process without stopping it (it keeps serving; a later run adopts it). */
  detach(): void {
    this.stopping = true;
    if (this.monitor) clearInterval(this.monitor);
  }

  async showProc(): Promise<ProcInfo[]> {
    return parseShowProc(await sendCommand(this.masterSocket, 'show proc', 2000));
  }

  private watch(): void {
    if (this.monitor) clearInterval(this.monitor);
    this.monitor = setInterval(() => this.check(), 200);
    this.monitor.unref();
  }

  private check(): void {
    const pid = this.masterPid;
    if (this.stopping || pid === undefined || processAlive(pid)) return;
    this.masterPid = undefined;
    if (this.monitor) clearInterval(this.monitor);
    this.opts.onDied?.(`HAProxy master ${pid} is gone`);
  }

  /**
   * Poll until the master reports a current worker that is new relative to `before` (and, after a
   * reload, a higher reload count) and the stats socket answers from that worker.
   */
  private async waitForWorker(before: readonly ProcInfo[], exited?: () => string | undefined, master?: ProcInfo): Promise<void> {
    const old = new Set(before.filter((p) => p.type !== 'master').map((p) => p.pid));
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 10_000);
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      const why = exited?.();
      if (why) throw new Error(`master ${why}`);
      // A master that died mid-reload (its worker killed) answers nothing: fail now, so the
      // supervisor's restart is not queued behind the whole ready timeout.
      const pid = this.masterPid;
      if (pid === undefined || !processAlive(pid)) throw new Error('the master is gone');
      let verdict: 'failed' | 'ready' | undefined;
      try {
        const procs = await this.showProc();
        const m = procs.find((p) => p.type === 'master');
        const worker = procs.find((p) => p.type === 'worker' && !old.has(p.pid));
        if (master && m && (m.failedReloads ?? 0) > (master.failedReloads ?? 0)) verdict = 'failed';
        else if (worker && (!master || (m && m.reloads > master.reloads))) {
          const info = await sendCommand(this.adminSocket, 'show info', 2000);
          if (new RegExp(`^Pid: ${worker.pid}$`, 'm').test(info)) verdict = 'ready';
          else last = `stats socket still answers from another process`;
        } else last = 'no new worker';
      } catch (err) {
        last = (err as Error).message; // not answering yet: poll again
      }
      if (verdict === 'failed') throw new Error('the master reports a failed reload');
      if (verdict === 'ready') return;
      await sleep(25);
    }
    throw new Error(`not ready within ${this.opts.readyTimeoutMs ?? 10_000} ms (${last})`);
  }

  private logSize(): number {
    try {
      return lstatSync(this.logFile).size;
    } catch {
      return 0;
    }
  }

  private logSince(offset: number): string {
    try {
      return readNoFollow(this.logFile).subarray(offset).toString('utf8').slice(-4000);
    } catch {
      return '';
    }
  }
}

function readNoFollow(path: string): Buffer {
  const fd = openSync(path, READ_NOFOLLOW);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
