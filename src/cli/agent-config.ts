/**
 * The agent's options from three layers, each validated by the one schema (agent-options.ts):
 * a `--config FILE` (YAML, located errors like manifests), the environment, and the command line.
 * Precedence: flag > environment > file > the schema's default. Every error names where the bad
 * value came from (the flag, the variable, or file:line:col) and is a usage error (exit 2).
 */
import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { UsageError } from '../errors.ts';
import { issueMessage } from '../manifest/issue-format.ts';
import { etcdUrlFromEndpoints } from '../registry/create-registry.ts';
import { fieldInfo, optionMeta } from './agent-options.ts';
import { flagOf } from './parse-flags.ts';

export type OptionsSchema = z.ZodObject<z.ZodRawShape>;

/** The schema's options as commander options (help, placeholder, env, shown default), plus --config. */
export function addAgentOptions(cmd: Command, schema: OptionsSchema): void {
  for (const [key, field] of Object.entries(schema.shape)) {
    const meta = optionMeta.get(field as z.ZodType);
    if (!meta) throw new Error(`agent option ${key} has no help`);
    const info = fieldInfo(field as z.ZodType);
    const help = info.choices ? `${meta.help} (choices: ${info.choices.join(', ')})` : meta.help;
    const o = new Option(meta.arg ? `${flagOf(key)} <${meta.arg}>` : flagOf(key), help);
    if (meta.env) o.env(meta.env);
    // Shown in --help only: the value in force is the schema's default, applied after the config file.
    if (meta.arg && info.default !== undefined) o.default(info.default);
    cmd.addOption(o);
  }
  cmd.addOption(new Option('--config <file>', 'YAML file of these options, keyed by their camelCase names (statusAddr: 127.0.0.1:7070); flags and environment override it').env('DOCKSTACK_CONFIG'));
}

/** The options in force and the keys given by a flag, the environment or the file (not defaulted). */
export interface ResolvedOptions<T> {
  readonly options: T;
  readonly given: ReadonlySet<string>;
}

/**
 * Merge and validate the layers of `cmd`'s options (after commander parsed the command line). The
 * YAML parser and the manifest schemas (for located errors) load only when there is a --config file:
 * the agent's start-up before its status API listens is paid on every start.
 */
export async function resolveAgentOptions<S extends OptionsSchema>(cmd: Command, schema: S, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedOptions<z.output<S>>> {
  const raw = cmd.opts<Record<string, unknown>>();
  const fromFile = typeof raw.config === 'string' ? (await import('./config-file.ts')).readConfigFile(raw.config, schema) : {};
  const layer: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  for (const [key, field] of Object.entries(schema.shape)) {
    const source = cmd.getOptionValueSource(key);
    // An empty variable is unset, as shells and supervisors mean it.
    if (source !== 'cli' && !(source === 'env' && raw[key] !== '')) continue;
    layer[key] = raw[key];
    origin.set(key, source === 'cli' ? flagOf(key) : (optionMeta.get(field as z.ZodType)?.env ?? key));
  }
  // The seed's variables name a registry too; as environment, they outrank the file.
  if ('registry' in schema.shape && layer.registry === undefined) {
    const seed = seedRegistryEnv(env);
    if (seed) {
      layer.registry = seed.url;
      origin.set('registry', seed.from);
    }
  }
  const checked = schema.safeParse(layer, { error: issueMessage });
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    throw new UsageError(`${origin.get(key) ?? flagOf(key)}: ${issue.message}`);
  }
  const merged = schema.parse({ ...fromFile, ...layer }, { error: issueMessage });
  return { options: merged, given: new Set([...Object.keys(fromFile), ...Object.keys(layer)]) };
}

function seedRegistryEnv(env: NodeJS.ProcessEnv): { url: string; from: string } | undefined {
  if (env.ZK_HOSTS) return { url: `zk://${env.ZK_HOSTS}`, from: 'ZK_HOSTS' };
  if (env.ETCD_ENDPOINTS) return { url: etcdUrlFromEndpoints(env.ETCD_ENDPOINTS), from: 'ETCD_ENDPOINTS' };
  return undefined;
}
