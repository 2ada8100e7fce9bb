import { Command } from 'commander';
import type { RegistryFlags, SynapseFlags } from '../seed-flags.ts';
import { runAgent, seedAgentOptions, withAgentOptions } from './agent.ts';

type Flags = SynapseFlags & RegistryFlags & { print?: boolean; listenAddress: string };

export const SYNAPSE_SOURCE = '<synapse-flags>';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * `dockstack synapse`: the seed's ambassador. Each --mysql/--tcp/--http NAME:PATH:PORT… becomes a
 * Subscription listening on --listen-address (all interfaces, as the seed's container did) at PORT;
 * `--print` shows them, otherwise an agent with HAProxy serves them.
 */
export function synapseCommand(): Command {
  return withAgentOptions(new Command('synapse'), 'seed')
    .description('proxy local ports to registered services, seed-style: --mysql NAME:PATH:PORT:CHECKUSER, --tcp NAME:PATH:PORT, --http NAME:PATH:PORT[:CHECKPATH]')
    .option('--mysql <spec>', 'NAME:PATH:PORT:CHECKUSER, HAProxy mysql-check as CHECKUSER (repeatable)', collect)
    .option('--tcp <spec>', 'NAME:PATH:PORT, TCP checks (repeatable)', collect)
    .option('--http <spec>', 'NAME:PATH:PORT[:CHECKPATH], HTTP mode and checks (repeatable)', collect)
    .option('--listen-address <addr>', 'address the ports listen on', '0.0.0.0')
    .option('--zk', 'discover in ZooKeeper at ZK_HOSTS (comma-separated host:port)')
    .option('--etcd', 'discover in etcd at ETCD_ENDPOINTS')
    .option('--print', 'print the equivalent Subscription manifests (YAML) and exit')
    .addHelpText('after', '\nExamples:\n  ZK_HOSTS=zk1:2181 dockstack synapse --mysql service1:path/test:3306:haproxy_check\n  dockstack synapse --http web:services/web:8080:/health --tcp cache:services/cache:6380 --print')
    .action(async (flags: Flags, cmd: Command) => {
      const [{ manifestsYaml }, { TextSource }, { synapseSubscriptions, seedRegistryUrl }] = await Promise.all([
        import('../../providers/manifest-docs.ts'),
        import('../../providers/text-source.ts'),
        import('../seed-flags.ts'),
      ]);
      const yaml = manifestsYaml(synapseSubscriptions(flags, flags.listenAddress));
      if (flags.print) return void process.stdout.write(yaml);
      // The seed's ambassador needs no flag for its registry: ZK_HOSTS alone selects ZooKeeper.
      const { options, given } = await seedAgentOptions(cmd);
      const registry = seedRegistryUrl(flags, process.env) ?? options.registry;
      await runAgent(
        { ...options, ...(registry && { registry }) },
        { sources: () => [new TextSource([[SYNAPSE_SOURCE, yaml]])], watchManifests: given.has('manifests') },
      );
    });
}
