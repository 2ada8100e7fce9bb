/**
 * `dockstack` — one commander program, one file per command under ./commands, one error
 * formatter (error-exit.ts). Actions throw; nothing inside them calls process.exit. A plain
 * `validate PATH…` does not come here (validate-main.ts).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { USAGE_EXIT_CODE } from '../errors.ts';
import { addLazyOptions, agentCommand } from './commands/agent.ts';
import { applyCommand, deleteCommand, diffCommand } from './commands/apply.ts';
import { createCommand } from './commands/create.ts';
import { drainCommand } from './commands/drain.ts';
import { explainCommand } from './commands/explain.ts';
import { describeCommand, getCommand } from './commands/get.ts';
import { nerveCommand } from './commands/nerve.ts';
import { maintenanceCommand } from './commands/maintenance.ts';
import { schemaCommand } from './commands/schema.ts';
import { synapseCommand } from './commands/synapse.ts';
import { validateCommand } from './commands/validate.ts';
import { waitCommand } from './commands/wait.ts';
import { reportError } from './error-exit.ts';

/** The package version, plus where the code runs from when that is not the build (bin/dockstack.js). */
function versionLine(): string {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const from = process.env.DOCKSTACK_RUNNING_FROM;
  return from ? `${version} (running from ${from})` : version;
}

export function buildProgram(): Command {
  const program = new Command('dockstack')
    .description('Declarative service discovery: register healthy services in ZooKeeper/etcd, route to them through a local HAProxy.')
    .version(versionLine())
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });
  for (const cmd of [agentCommand(), applyCommand(), deleteCommand(), diffCommand(), getCommand(), describeCommand(), drainCommand(), maintenanceCommand(), validateCommand(), explainCommand(), waitCommand(), schemaCommand(), createCommand(), nerveCommand(), synapseCommand()])
    program.addCommand(cmd);
  // The agent's options come from its zod schema, loaded only when an agent command runs or shows its help.
  program.hook('preSubcommand', (_program, sub) => addLazyOptions(sub));
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    // commander's own errors (unknown option or command, missing argument, bad choice) are usage errors; --help and --version exit 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
    return reportError(err);
  }
}

const code = await main(process.argv);
process.exitCode = code;
