/**
 * Client for HAProxy's Unix-socket CLIs (the stats socket and the master CLI): one command per
 * connection, bounded by a timeout, plus parsers for the answers DockStack reads.
 */
import { createConnection } from 'node:net';
import { HaproxyError } from '../errors.ts';

/** Send one command over the Unix socket at `path`; resolves with HAProxy's whole answer. */
export function sendCommand(path: string, command: string, timeoutMs = 5000): Promise<string> {
  if (/[\r\n;]/.test(command)) throw new HaproxyError(`sending "${command.slice(0, 60)}": refusing a multi-command line`);
  return sendRaw(path, command, timeoutMs);
}

function sendRaw(path: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = createConnection(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new HaproxyError(`sending "${command}" to ${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.end(`${command}\n`));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new HaproxyError(`sending "${command}" to ${path}: ${err.message}`, '', err));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Answers of `set server` / `set weight` / `enable health` that mean success. */
const OK_RE = /^(|IP changed from .*|no need to change .*|port changed from .*)$/s;

/** Send a state-changing admin command; throws HaproxyError with HAProxy's answer unless it succeeded. */
export async function runAdmin(path: string, command: string, timeoutMs?: number): Promise<void> {
  const answer = (await sendCommand(path, command, timeoutMs)).trim();
  if (!OK_RE.test(answer)) throw new HaproxyError(`running "${command}"`, answer);
}

const BATCH = 64; // commands per connection: well under HAProxy's 16 KiB command-line buffer

/**
 * Send admin commands in order, many per connection (`cmd1;cmd2;…`): one socket round trip per
 * update instead of one per command. HAProxy answers each with its text and a blank line; any
 * line that is not a success answer fails the batch (the caller resets state by reloading).
 */
export async function runAdminBatch(path: string, commands: readonly string[], timeoutMs?: number): Promise<void> {
  for (const c of commands) if (/[\r\n;]/.test(c)) throw new HaproxyError(`sending "${c.slice(0, 60)}": refusing a multi-command line`);
  for (let i = 0; i < commands.length; i += BATCH) {
    const batch = commands.slice(i, i + BATCH);
    const answer = await sendRaw(path, batch.join(';'), timeoutMs);
    const bad = answer.split('\n').filter((l) => l.trim() !== '' && !OK_RE.test(l.trim()));
    if (bad.length) throw new HaproxyError(`running ${batch.length} runtime commands (${batch[0]} …)`, bad.join('\n'));
  }
}

/** One row of `show stat`, keyed by its CSV header. */
export type StatRow = Readonly<Record<string, string>>;

/** Parse `show stat` CSV ("# pxname,svname,...") into rows. */
export function parseShowStat(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0];
  if (header === undefined || !header.startsWith('# ')) throw new HaproxyError('parsing "show stat": no CSV header', text.slice(0, 200));
  const cols = header.slice(2).split(',');
  return lines.slice(1).map((line) => {
    const vals = line.split(',');
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      if (c !== '') row[c] = vals[i] ?? '';
    });
    return row;
  });
}

/** A process line of the master CLI's `show proc`. */
export interface ProcInfo {
  readonly pid: number;
  readonly type: 'master' | 'worker' | 'old-worker' | 'program';
  readonly reloads: number;
  readonly failedReloads?: number;
}

/** Parse the master CLI's `show proc`: the master, current workers and old workers. */
export function parseShowProc(text: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  let section: 'master' | 'worker' | 'old-worker' | 'program' = 'master';
  for (const line of text.split('\n')) {
    if (line.startsWith('# workers')) section = 'worker';
    else if (line.startsWith('# old workers')) section = 'old-worker';
    else if (line.startsWith('# programs')) section = 'program';
    const m = /^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed: (\d+)\])?/.exec(line);
    if (!m) continue;
    const type = m[2] === 'master' ? 'master' : section;
    out.push({ pid: Number(m[1]), type, reloads: Number(m[3]), ...(m[4] !== undefined ? { failedReloads: Number(m[4]) } : {}) });
  }
  return out;
}
