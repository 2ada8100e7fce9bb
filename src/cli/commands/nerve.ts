import { Command } from 'commander';
import type { NerveFlags, RegistryFlags } from '../seed-flags.ts';
import { runAgent, seedAgentOptions, withAgentOptions } from './agent.ts';

type Flags = NerveFlags & RegistryFlags & { print?: boolean };

/** The file name generated manifests carry in errors and `get -o wide`'s SOURCE. */
export const NERVE_SOURCE = '<nerve-flags>';

/**
 * `dockstack nerve`: the seed's registration wrapper. SERVICE, SERVICE_PORT, SERVICE_HOST and one
 * check flag become one Service manifest; `--print` shows it, otherwise an agent registers it
 * (no HAProxy unless --proxy haproxy; --manifests is watched too only when given).
 */
export function nerveCommand(): Command {
  return withAgentOptions(new Command('nerve'), 'seed')
    .description('register one service from the seed-style env (SERVICE, SERVICE_PORT, SERVICE_HOST) while its check passes')
    .option('--tcp', 'check: TCP connect (the default)')
    .option('--http <path>', 'check: HTTP GET PATH answers 2xx/3xx')
    .option('--mysql <user>', 'check: MySQL handshake and login as USER (passwordless)')
    .option('--redis', 'check: Redis PING')
    .option('--zk', 'register in ZooKeeper at ZK_HOSTS (comma-separated host:port)')
    .option('--etcd', 'register in etcd at ETCD_ENDPOINTS')
    .option('--print', 'print the equivalent Service manifest (YAML) and exit')
    .addHelpText('after', '\nExamples:\n  ZK_HOSTS=zk1:2181 SERVICE=path/test SERVICE_PORT=3306 SERVICE_HOST=10.0.0.5 dockstack nerve --tcp --zk\n  SERVICE=path/test SERVICE_PORT=3306 dockstack nerve --mysql haproxy_check --print > db.yaml')
    .action(async (flags: Flags, cmd: Command) => {
      const [{ manifestsYaml }, { TextSource }, { nerveService, seedRegistryUrl }] = await Promise.all([
        import('../../providers/manifest-docs.ts'),
        import('../../providers/text-source.ts'),
        import('../seed-flags.ts'),
      ]);
      const yaml = manifestsYaml([nerveService(flags, process.env)]);
      if (flags.print) return void process.stdout.write(yaml);
      const { options, given } = await seedAgentOptions(cmd);
      const registry = seedRegistryUrl(flags, process.env) ?? options.registry;
      await runAgent(
        { ...options, ...(!given.has('proxy') && { proxy: 'none' as const }), ...(registry && { registry }) },
        { sources: () => [new TextSource([[NERVE_SOURCE, yaml]])], watchManifests: given.has('manifests') },
      );
    });
}
