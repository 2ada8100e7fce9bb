/**
 * Structured logs: pino JSON lines on stderr with a stable shape (`object` = "kind/name", `err`,
 * `reason`…). On a TTY, a compact human line instead.
 */
import pino, { type Logger as Pino } from 'pino';
import type { Logger } from './reconcile/controller-context.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel = 'info', pretty = process.stderr.isTTY === true): Pino & Logger {
  if (!pretty) return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
  const write = (line: string) => {
    const o = JSON.parse(line) as Record<string, unknown>;
    const { level: lv, time, msg, pid: _pid, ...rest } = o;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    process.stderr.write(`${String(time).slice(11, 23)} ${pino.levels.labels[Number(lv)]?.toUpperCase().padEnd(5)} ${String(msg ?? '')} ${extra}\n`);
  };
  return pino({ level, timestamp: pino.stdTimeFunctions.isoTime }, { write });
}
