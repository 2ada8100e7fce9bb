/**
 * `dockstack drain service NAME [--timeout 30s] [--off] [--no-wait]`: deregister the instance now,
 * keep the process serving its existing connections, and (by default) wait out the timeout with a
 * progress line, so it fits a preStop hook: `dockstack drain service web && kill app`.
 */
import { Command, Option } from 'commander';
import type { ObjectView } from '../../agent.ts';
import { DockstackError, UsageError } from '../../errors.ts';
import { keyOf } from '../../object-key.ts';
import type { DrainState } from '../../server/operations.ts';
import { parseKind } from '../kinds.ts';
import { statusAddrOption, statusTokenOption, type StatusOpts } from '../shared-options.ts';
import { StatusClient } from '../status-client.ts';

/** "30s", "500ms", "2m", or plain seconds → milliseconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`--timeout: expected a duration like 30s, 500ms or 2m, got "${v}"`);
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm'];
  if (n > 86_400_000) throw new UsageError(`--timeout: at most 24h, got "${v}"`);
  return Math.round(n);
}


interface DrainOpts extends StatusOpts {
  timeout: number;
  off?: boolean;
  wait: boolean;
}

export function drainCommand(): Command {
  return new Command('drain')
    .description('deregister a Service instance and let its existing connections finish (until --timeout); --off ends the drain')
    .argument('<kind>', 'service')
    .argument('<name>')
    .addOption(new Option('--timeout <duration>', 'grace period for existing connections').argParser(parseDuration).default(30_000, '30s'))
    .option('--off', 'end the drain: register again while healthy')
    .option('--no-wait', 'return once deregistered instead of waiting out the timeout')
    .addOption(statusAddrOption())
    .addOption(statusTokenOption())
    .addHelpText('after', '\nExamples:\n  dockstack drain service web --timeout 20s\n  dockstack drain service web --off')
    .action(async (kindArg: string, name: string, opts: DrainOpts) => {
      if (parseKind(kindArg) !== 'Service') throw new UsageError(`drain works on services, not "${kindArg}"`, { hint: 'e.g. dockstack drain service web' });
      const api = new StatusClient(opts);
      const key = keyOf('Service', name);
      const path = `/api/v1/services/${encodeURIComponent(name)}`;
      const r = await api.post<DrainState>(`${path}/drain`, { on: !opts.off, timeoutMs: opts.timeout });
      if (!r.draining) return void process.stdout.write(`${key} undrained\n`);
      process.stdout.write(`${key} draining until ${r.until}\n`);
      if (!opts.wait) return;
      // Bounded: the agent reports done at `until`; allow it a little slack beyond that.
      const deadline = Date.parse(r.until!) + 10_000;
      let lastShown = -1;
      for (;;) {
        const view = await api.get<ObjectView>(path);
        const drain = view?.status.details.drain;
        if (!drain) throw new DockstackError('E_NOT_FOUND', `${key}: the drain was ended or the service removed while waiting`);
        if (drain.done) return void process.stdout.write(`${key} drained\n`);
        const left = Math.max(0, Math.ceil((Date.parse(r.until!) - Date.now()) / 1000));
        if (left !== lastShown && (left % 5 === 0 || left <= 3)) process.stderr.write(`draining ${key}: ${left}s left\n`);
        lastShown = left;
        if (Date.now() > deadline) throw new DockstackError('E_STATUS_API', `${key}: the agent did not report the drain done by ${new Date(deadline).toISOString()}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(50, Date.parse(r.until!) - Date.now()))));
      }
    });
}
