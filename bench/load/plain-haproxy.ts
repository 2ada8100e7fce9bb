/** A hand-written minimal HAProxy (`listen` + one `server`), the reference our generated config is compared with. */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface PlainHaproxy {
  stop(): Promise<void>;
}

export async function startPlainHaproxy(dir: string, mode: 'tcp' | 'http', port: number, backendPort: number): Promise<PlainHaproxy> {
  const cfg = join(dir, `plain-${mode}.cfg`);
  await writeFile(
    cfg,
    [
      'defaults',
      `  mode ${mode}`,
      '  timeout connect 5s',
      '  timeout client 1h',
      '  timeout server 1h',
      `listen plain`,
      `  bind 127.0.0.1:${port}`,
      `  server only 127.0.0.1:${backendPort}`,
      '',
    ].join('\n'),
  );
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' });
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
      throw new Error(`hand-written haproxy did not listen on ${port}`);
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
