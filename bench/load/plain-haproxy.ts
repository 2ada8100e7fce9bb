/** A hand-written minimal HAProxy (`listen` + one `server`), the reference our generated config is compared with, and variants of it. */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface PlainHaproxy {
  stop(): Promise<void>;
}

/**
 * In a session of its own (`detached`), as the agent starts its HAProxy. It matters here: with the
 * kernel's autogroup scheduling on (sched_autogroup_enabled=1), the same minimal config measured
 * +14 % p50 and +130 % p99 on kept-alive http at load 8 in its own session, against its twin in the
 * bench's session.
 */
export async function startPlainHaproxy(dir: string, mode: 'tcp' | 'http', port: number, backendPort: number): Promise<PlainHaproxy> {
  return startHaproxyConfig(dir, `plain-${mode}`, minimalConfig(mode, port, backendPort), port, { detached: true });
}

/** The hand-written minimal config, with `extra` lines added to its `defaults` and `listen` sections. */
export function minimalConfig(mode: 'tcp' | 'http', port: number, backendPort: number, extra: { defaults?: readonly string[]; listen?: readonly string[] } = {}): string {
  return [
    'defaults',
    `  mode ${mode}`,
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    ...(extra.defaults ?? []).map((l) => `  ${l}`),
    `listen plain`,
    `  bind 127.0.0.1:${port}`,
    ...(extra.listen ?? []).map((l) => `  ${l}`),
    `  server only 127.0.0.1:${backendPort}`,
    '',
  ].join('\n');
}

/** `haproxy -db -f` (or `-W` master-worker, as the agent runs it) on `text` (written to DIR/NAME.cfg), once it accepts connections on `port`. */
export async function startHaproxyConfig(dir: string, name: string, text: string, port: number, opts: { masterWorker?: boolean; detached?: boolean } = {}): Promise<PlainHaproxy> {
  const { masterWorker = false, detached = false } = opts;
  const cfg = join(dir, `${name}.cfg`);
  await writeFile(cfg, text);
  const child = spawn('haproxy', [...(masterWorker ? ['-W', '-S', join(dir, `${name}.master.sock`)] : []), '-db', '-f', cfg], { stdio: 'ignore', detached });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`haproxy -f ${cfg} did not listen on ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
