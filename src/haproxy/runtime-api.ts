/**
 * Client for HAProxy's Unix-socket CLIs (the stats socket and the master CLI): one command per
 * connection, bounded by a timeout, plus parsers for the answers DockStack reads.
 */
import { createConnection } from 'node:net';
import { HaproxyError } from '../errors.ts';
import type { EndpointStatus } from '../proxy/proxy.ts';

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
      reject(new HaproxyError(`sending "${command}" to ${path}: ${err.message}`, { cause: err }));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Answers of `set server`, `set weight`, `enable health`, `add server`, `del server`… that mean success. */
const OK_RE = /^(|IP changed from .*|no need to change .*|port changed from .*|New server registered\.|Server deleted\.)$/s;

/**
 * Whether `answer` says `command` succeeded. `dockstack slot` (dockstack.lua) answers "ok" and
 * nothing else: an empty answer is what HAProxy leaves when the Lua function raised an error.
 */
export const answerOk = (command: string, answer: string): boolean => (command.startsWith('dockstack ') ? answer === 'ok' : OK_RE.test(answer));

/** Send a state-changing admin command; throws HaproxyError with HAProxy's answer unless it succeeded. */
export async function runAdmin(path: string, command: string, timeoutMs?: number): Promise<void> {
  const answer = (await sendCommand(path, command, timeoutMs)).trim();
  if (!answerOk(command, answer)) throw new HaproxyError(`running "${command}"`, { output: answer });
}

/** A runtime command HAProxy refused, with its answer. */
export interface Refusal {
  readonly command: string;
  readonly answer: string;
}

const DELETED = 'Server deleted.\n';
// Bytes per `cmd1;cmd2;…` line: HAProxy reads a command line into one 16 KiB buffer.
const LINE_BYTES = 12_000;

/** Commands grouped into lines that fit HAProxy's command-line buffer. */
function batches(commands: readonly string[]): string[][] {
  const out: string[][] = [[]];
  let bytes = 0;
  for (const c of commands) {
    if (bytes + c.length + 1 > LINE_BYTES && out.at(-1)!.length) out.push([]), (bytes = 0);
    out.at(-1)!.push(c);
    bytes += c.length + 1;
  }
  return out;
}

/**
 * Split the answer to `cmd1;cmd2;…` into one answer per command. HAProxy runs every command of a
 * line, even after one fails, and ends each answer with a blank line: an empty answer is a lone
 * "\n", any other is "text\n\n" — except `del server`'s "Server deleted.\n" (2.6 prints no blank line
 * after it). Undefined when the text does not hold exactly `n` answers.
 */
export function splitAnswers(text: string, n: number): string[] | undefined {
  const out: string[] = [];
  let p = 0;
  while (p < text.length) {
    if (text.startsWith(DELETED, p) || text[p] === '\n') {
      const one = text[p] === '\n' ? '\n' : DELETED;
      out.push(one.trim());
      p += one.length;
      continue;
    }
    const end = text.indexOf('\n\n', p);
    if (end < 0) return undefined;
    out.push(text.slice(p, end));
    p = end + 2;
  }
  return out.length === n ? out : undefined;
}

/**
 * Send admin commands in order, many per connection (one socket round trip per update instead of
 * one per command), and check each command's own answer. Resolves the refused commands (all were
 * sent); throws HaproxyError when an answer cannot be read or attributed, so the state is unknown.
 */
export async function runAdminBatch(path: string, commands: readonly string[], timeoutMs?: number): Promise<Refusal[]> {
  for (const c of commands) if (/[\r\n;]/.test(c)) throw new HaproxyError(`sending "${c.slice(0, 60)}": refusing a multi-command line`);
  const refused: Refusal[] = [];
  for (const batch of batches(commands)) {
    if (!batch.length) continue;
    const text = await sendRaw(path, batch.join(';'), timeoutMs);
    const answers = splitAnswers(text, batch.length);
    if (!answers) throw new HaproxyError(`running ${batch.length} runtime commands (${batch[0]} …): unreadable answer`, { output: text.slice(0, 400) });
    answers.forEach((a, j) => {
      if (!answerOk(batch[j]!, a.trim())) refused.push({ command: batch[j]!, answer: a.trim() });
    });
  }
  return refused;
}

/** One row of `show stat`, keyed by its CSV header. */
export type StatRow = Readonly<Record<string, string>>;

/**
 * Parse `show stat` CSV ("# pxname,svname,...") into rows; answers of several `show stat` commands
 * may be concatenated (each repeats the header). `only` picks rows by server name before a row is
 * built: a 16,384-slot dump is 16,384 rows of ~100 fields.
 */
export function parseShowStat(text: string, only?: (svname: string) => boolean): StatRow[] {
  const lines = text.split('\n');
  const header = lines.find((l) => l.trim() !== '');
  if (header === undefined || !header.startsWith('# ')) throw new HaproxyError('parsing "show stat": no CSV header', { output: text.slice(0, 200) });
  const cols = header.slice(2).split(',');
  const out: StatRow[] = [];
  for (const line of lines) {
    if (line.startsWith('#') || line.trim() === '') continue;
    if (only) {
      const a = line.indexOf(',');
      if (!only(line.slice(a + 1, line.indexOf(',', a + 1)))) continue;
    }
    const vals = line.split(',');
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      if (c !== '') row[c] = vals[i] ?? '';
    });
    out.push(row);
  }
  return out;
}

/**
 * `show stat` rows of backend `backend`'s servers by server name: of the servers with the given ids
 * only (one `show stat <backend> 4 <id>` each, batched), or of all of them.
 */
export async function serverStats(path: string, backend: string, ids?: readonly number[]): Promise<Map<string, StatRow>> {
  const cmds = ids ? ids.map((id) => `show stat ${backend} 4 ${id}`) : [`show stat ${backend} 4 -1`];
  const rows: StatRow[] = [];
  for (const batch of batches(cmds)) if (batch.length) rows.push(...parseShowStat(await sendRaw(path, batch.join(';'))));
  return new Map(rows.filter((r) => r.pxname === backend).map((r) => [r.svname ?? '', r]));
}

/** The live fields of a server's `show stat` row: last check, open sessions, time since the last change. */
export function liveFields(row: StatRow): Pick<EndpointStatus, 'check' | 'sessions' | 'lastChangeSeconds'> {
  const num = (v: string | undefined) => (v === undefined || v === '' || !/^\d+$/.test(v) ? undefined : Number(v));
  const duration = num(row.check_duration);
  return {
    ...(row.check_status && { check: { status: row.check_status.replace(/^\* /, ''), ...(duration !== undefined && { durationMs: duration }) } }),
    ...(num(row.scur) !== undefined && { sessions: num(row.scur) }),
    ...(num(row.lastchg) !== undefined && { lastChangeSeconds: num(row.lastchg) }),
  };
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
