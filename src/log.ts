/**
 * Structured logs: pino JSON lines on stderr with a stable shape — `time` (ISO 8601), `level`
 * ("info", "warn"…), `pid`, `msg`, and where they apply `object` ("service/web"), `generation`,
 * `reason` (the event reason: Registered, BackendAdded, InvalidManifest…), `eventType`
 * (Normal/Warning), `err`, `outcome`, `retries`, `durationMs`. On a TTY, a compact human line instead.
 * The README's "Operating DockStack" section documents these fields; test/logs.test.ts holds them.
 */
import pino, { type Logger as Pino } from 'pino';
import type { LogLevel } from './log-level.ts';

export { LOG_LEVELS, type LogLevel } from './log-level.ts';

/** What every component logs through: pino's shape, so the agent passes its pino logger as is. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A Logger that drops everything (tests, benchmarks, library use). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const options = (level: LogLevel) => ({
  level,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
});

export function createLogger(level: LogLevel = 'info', pretty = process.stderr.isTTY === true): Pino & Logger {
  if (!pretty) return pino({ ...options(level), base: { pid: process.pid } }, pino.destination(2));
  const write = (line: string) => {
    const o = JSON.parse(line) as Record<string, unknown>;
    const { level: lv, time, msg, pid: _pid, ...rest } = o;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    process.stderr.write(`${String(time).slice(11, 23)} ${String(lv).toUpperCase().padEnd(5)} ${String(msg ?? '')} ${extra}\n`);
  };
  return pino({ ...options(level), base: null }, { write });
}
