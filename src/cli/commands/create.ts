import { Command, Option } from 'commander';
import { UsageError } from '../../errors.ts';
import type { CheckInput, SubscriptionInput } from '../../providers/manifest-docs.ts';
import { parseKind } from '../kinds.ts';
import { manifestsOption } from '../shared-options.ts';

type ProxyCheckInput = SubscriptionInput['spec']['check'];

/** "tcp" | "http[:/path]" | "mysql:USER" | "redis" (| "none" for subscriptions); value checks are the schema's. */
function parseCheck(spec: string, allowNone: boolean): CheckInput & ProxyCheckInput {
  const [type = '', arg] = spec.split(/:(.*)/s, 2);
  const form = `tcp | http[:/PATH] | mysql:USER | redis${allowNone ? ' | none' : ''}`;
  if (type === 'http') return { type, path: arg ?? '/' };
  if (type === 'mysql' && arg) return { type, user: arg };
  if ((type === 'tcp' || type === 'redis' || (type === 'none' && allowNone)) && arg === undefined) return { type } as CheckInput & ProxyCheckInput;
  throw new UsageError(`--check: expected ${form}, got "${spec}"`);
}

/**
 * `dockstack create service|subscription NAME`: a manifest from explicit flags, validated by the
 * same schema as files. --dry-run prints it (-o yaml|json); otherwise it is written into
 * --manifests like `apply` (refusing to overwrite an existing object).
 */
export function createCommand(): Command {
  return new Command('create')
    .description('create a Service or Subscription manifest from flags (--dry-run -o yaml prints it)')
    .argument('<kind>', 'service | subscription')
    .argument('<name>')
    .requiredOption('--path <path>', 'registry path (a Service registers there, a Subscription routes to it)')
    .requiredOption('--port <port>', 'Service: the port registered; Subscription: the local listen port')
    .option('--host <host>', 'Service: the address registered (default: the agent\'s --host)')
    .option('--address <addr>', 'Subscription: listen address (default 127.0.0.1)')
    .addOption(new Option('--mode <mode>', 'Subscription: proxy mode').choices(['tcp', 'http']))
    .option('--check <check>', 'tcp | http[:/PATH] | mysql:USER | redis | none (subscriptions)')
    .option('--dry-run', 'print the manifest, write nothing')
    .addOption(new Option('-o, --output <format>', 'with --dry-run').choices(['yaml', 'json']).default('yaml'))
    .addOption(manifestsOption())
    .addHelpText('after', '\nExamples:\n  dockstack create service mysql --path /path/test --port 3306 --check mysql:haproxy_check --dry-run -o yaml\n  dockstack create subscription mysql --path /path/test --port 13306 --check mysql:haproxy_check')
    .action(async (kindArg: string, name: string, raw: unknown) => {
      const kind = parseKind(kindArg);
      if (!kind) throw new UsageError(`expected kind service or subscription, got "${kindArg}"`);
      // Loaded here: zod and yaml are paid for by the command that parses, not by --help.
      const [{ parseManifestText }, { manifestsYaml, serviceDoc, subscriptionDoc }, { executePlan, planApply }, { CreateFlags }, { parseFlags }] = await Promise.all([
        import('../../manifest/parse.ts'),
        import('../../providers/manifest-docs.ts'),
        import('../manifest-dir.ts'),
        import('../seed-flags.ts'),
        import('../parse-flags.ts'),
      ]);
      const f = parseFlags(CreateFlags, raw);
      const { path, port } = f;
      const only = (flag: string, v: unknown, k: string) => {
        if (v !== undefined && kind !== k) throw new UsageError(`${flag}: only for ${k.toLowerCase()}s`);
      };
      only('--host', f.host, 'Service');
      only('--address', f.address, 'Subscription');
      only('--mode', f.mode, 'Subscription');
      const check = f.check === undefined ? undefined : parseCheck(f.check, kind === 'Subscription');
      const doc =
        kind === 'Service'
          ? serviceDoc(name, { path, ...(f.host && { host: f.host }), port, ...(check && { checks: [check as CheckInput] }) })
          : subscriptionDoc(name, { service: path, listen: { ...(f.address && { address: f.address }), port }, ...(f.mode && { mode: f.mode }), ...(check && { check }) });
      const text = manifestsYaml([doc]);
      const parsed = parseManifestText(text, '<flags>');
      const loaded = parsed.manifests[0];
      if (!loaded) throw new UsageError(parsed.errors[0]?.message.replace(/^<flags>:\d+:\d+ /, '') ?? 'invalid manifest');
      if (f.dryRun) return void process.stdout.write(f.output === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : text);
      const plan = await planApply(f.manifests, [{ key: loaded.key, manifest: loaded.manifest, text }]);
      if (plan.actions.some((a) => a.action !== 'created')) throw new UsageError(`${loaded.key} already exists in ${f.manifests}`, { hint: 'edit it and run dockstack apply' });
      await executePlan(plan, f.manifests);
      for (const a of plan.actions) process.stdout.write(`${a.key} created\n`);
    });
}
