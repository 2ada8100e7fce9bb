/**
 * `dockstack wait --for=condition=Ready[=VALUE] | --for=delete KIND/NAME... [--timeout 60s]`, as
 * kubectl waits: polls the agent until every object meets the condition. Exit 0 when they all do,
 * 1 on timeout (naming those that did not), 2 on any error (bad arguments, no agent). An object the
 * agent does not know yet is waited for: a deploy script applies a manifest, then waits.
 */
import { Command } from 'commander';
import type { ObjectView } from '../../agent.ts';
import { DockstackError, UsageError } from '../../errors.ts';
import { keyOf, type ObjectKey } from '../../object-key.ts';
import { ExitCode } from '../exit-code.ts';
import { parseKind, pluralOf } from '../kinds.ts';
import { statusAddrOption, type StatusOpts } from '../shared-options.ts';
import { StatusClient } from '../status-client.ts';
import { parseDuration } from './drain.ts';

const POLL_MS = 200;

type Want = { readonly delete: true } | { readonly condition: string; readonly value: string };

export function parseFor(v: string): Want {
  if (v === 'delete') return { delete: true };
  const m = /^condition=([A-Za-z][\w-]*)(?:=(\w+))?$/.exec(v);
  if (!m) throw new UsageError(`--for: expected condition=NAME[=VALUE] or delete, got "${v}"`, { hint: 'e.g. --for=condition=Ready' });
  const value = (m[2] ?? 'True').toLowerCase();
  return { condition: m[1]!, value: value === 'true' ? 'True' : value === 'false' ? 'False' : value === 'unknown' ? 'Unknown' : m[2]! };
}

function parseObject(s: string): { key: ObjectKey; path: string } {
  const m = /^([A-Za-z]+)\/(.+)$/.exec(s);
  const kind = m && parseKind(m[1]!);
  if (!m || !kind) throw new UsageError(`"${s}": expected KIND/NAME, e.g. service/web or subscription/db`);
  return { key: keyOf(kind, m[2]!), path: `/api/v1/${pluralOf(kind)}/${encodeURIComponent(m[2]!)}` };
}

const met = (want: Want, view: ObjectView | undefined): boolean =>
  'delete' in want ? view === undefined : view?.status.conditions.some((c) => c.type === want.condition && c.status === want.value) === true;

export function waitCommand(): Command {
  return new Command('wait')
    .description('wait until objects meet a condition or are deleted: exit 0 when they do, 1 on timeout, 2 on error')
    .argument('<objects...>', 'KIND/NAME: service/web subscription/db …')
    .option('--for <condition>', 'condition=NAME[=VALUE] (VALUE True by default), or delete')
    .option('--timeout <duration>', 'give up after this long: 30s, 500ms, 2m', '30s')
    .addOption(statusAddrOption())
    .addHelpText('after', '\nExamples:\n  dockstack wait --for=condition=Ready service/web subscription/db --timeout 60s\n  dockstack wait --for=delete subscription/old --timeout 30s')
    .action(async (objects: string[], opts: StatusOpts & { for?: string; timeout: string }) => {
      try {
        if (opts.for === undefined) throw new UsageError('wait: --for is required', { hint: 'e.g. --for=condition=Ready or --for=delete' });
        const want = parseFor(opts.for);
        const timeoutMs = parseDuration(opts.timeout);
        const targets = objects.map(parseObject);
        const api = new StatusClient(opts);
        const deadline = Date.now() + timeoutMs;
        let pending = targets;
        for (;;) {
          const views = await Promise.all(pending.map((t) => api.get<ObjectView>(t.path)));
          const left = pending.filter((t, i) => {
            if (!met(want, views[i])) return true;
            process.stdout.write(`${t.key} ${'delete' in want ? 'deleted' : `condition met: ${want.condition}=${want.value}`}\n`);
            return false;
          });
          pending = left;
          if (pending.length === 0) return;
          if (Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
        }
        const what = 'delete' in want ? 'deletion' : `condition ${want.condition}=${want.value}`;
        process.stderr.write(`error: timed out after ${opts.timeout} waiting for ${what} on ${pending.map((t) => t.key).join(', ')}\n`);
      } catch (err) {
        if (!(err instanceof DockstackError)) throw err;
        throw new DockstackError('E_WAIT_FAILED', err.message, { cause: err, exitCode: 2, ...(err.hint !== undefined && { hint: err.hint }) });
      }
      throw new ExitCode(1);
    });
}
