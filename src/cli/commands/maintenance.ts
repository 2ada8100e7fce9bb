/**
 * `dockstack maintenance subscription NAME BACKEND on|off`: hold one backend ("host:port") of a
 * Subscription in HAProxy maintenance through the agent (runtime API, no reload). The override
 * lives in the agent until `off`; for GitOps, list the backend in the manifest's spec.maintenance.
 */
import { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseKind } from '../kinds.ts';
import { statusAddrOption, statusTokenOption, type StatusOpts } from '../shared-options.ts';
import { StatusClient } from '../status-client.ts';

export function maintenanceCommand(): Command {
  return new Command('maintenance')
    .description('hold a Subscription backend in HAProxy maintenance (on) or release it (off)')
    .argument('<kind>', 'subscription')
    .argument('<name>')
    .argument('<backend>', 'host:port of the backend')
    .argument('<state>', 'on | off')
    .addOption(statusAddrOption())
    .addOption(statusTokenOption())
    .addHelpText('after', '\nExample:\n  dockstack maintenance subscription mysql 10.0.0.7:3306 on')
    .action(async (kindArg: string, name: string, backend: string, state: string, opts: StatusOpts) => {
      if (parseKind(kindArg) !== 'Subscription') throw new UsageError(`maintenance works on subscriptions, not "${kindArg}"`, { hint: 'e.g. dockstack maintenance subscription mysql 10.0.0.7:3306 on' });
      if (state !== 'on' && state !== 'off') throw new UsageError(`expected on or off, got "${state}"`);
      const r = await new StatusClient(opts).post<{ object: string; backend: string }>(`/api/v1/subscriptions/${encodeURIComponent(name)}/maintenance`, { backend, on: state === 'on' });
      process.stdout.write(`${r.object} backend ${r.backend} maintenance ${state}\n`);
    });
}
