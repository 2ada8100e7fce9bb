/**
 * The agent's options from three layers, each validated by the one schema (agent-options.ts):
 * a `--config FILE` (YAML, located errors like manifests), the environment, and the command line.
 * Precedence: flag > environment > file > the schema's default. Every error names where the bad
 * value came from (the flag, the variable, or file:line:col) and is a usage error (exit 2).
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { LineCounter, isMap, isScalar, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { DockstackError, ManifestError, UsageError, USAGE_EXIT_CODE } from '../errors.ts';
import { issueMessage } from '../manifest/issue-format.ts';
import { issueErrors, locator, syntaxErrors } from '../manifest/located-issues.ts';
import { MAX_ALIAS_COUNT, MAX_MANIFEST_BYTES } from '../manifest/parse.ts';
import { nodePosition } from '../manifest/yaml-locate.ts';
import { etcdUrlFromEndpoints } from '../registry/create-registry.ts';
import { fieldInfo, optionMeta } from './agent-options.ts';
import { flagOf } from './parse-flags.ts';

type OptionsSchema = z.ZodObject<z.ZodRawShape>;

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

/** A bad --config file (a usage error, exit 2). */
export class ConfigError extends DockstackError {
  constructor(message: string, opts: { context?: Record<string, unknown>; cause?: unknown; hint?: string } = {}) {
    super('E_CONFIG', message, { ...opts, exitCode: USAGE_EXIT_CODE });
  }
}

/** The ConfigError of `errors` in `file`: every located error, one per line. */
const configError = (file: string, errors: readonly ManifestError[]): ConfigError =>
  new ConfigError(errors.map((e) => e.message).join('\n'), { context: { file, errors } });

/** Merge and validate the layers of `cmd`'s options (after commander parsed the command line). */
export function resolveAgentOptions<S extends OptionsSchema>(cmd: Command, schema: S, env: NodeJS.ProcessEnv = process.env): ResolvedOptions<z.output<S>> {
  const raw = cmd.opts<Record<string, unknown>>();
  const fromFile = typeof raw.config === 'string' ? readConfigFile(raw.config, schema) : {};
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

/** The file's options as written (validated, not yet defaulted), or a ConfigError with located errors. */
export function readConfigFile(file: string, schema: OptionsSchema): Record<string, unknown> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UsageError(`--config: reading ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const fatal = (detail: string): never => {
    throw configError(file, [new ManifestError(detail, { context: { file, position: { line: 1, column: 1 } } })]);
  };
  if (bytes.byteLength > MAX_MANIFEST_BYTES) fatal(`file is ${bytes.byteLength} bytes, larger than the ${MAX_MANIFEST_BYTES}-byte limit`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fatal('binary content: not valid UTF-8');
  }
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const syntax = syntaxErrors(list, lc, file);
  if (syntax.length) throw configError(file, syntax);
  const [doc, extra] = list;
  if (extra) throw configError(file, [new ManifestError('expected one YAML document, found another', { context: { file, position: nodePosition(lc, extra.contents, extra.range[0]) } })]);
  if (!doc || doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return {};
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    fatal(`cannot expand the document: ${(err as Error).message}`);
  }
  if (!isMap(doc.contents) || data === null || typeof data !== 'object' || Array.isArray(data))
    throw configError(file, [new ManifestError('expected a mapping of agent options (statusAddr: …, registry: …)', { context: { file, position: nodePosition(lc, doc.contents, doc.range[0]) } })]);
  const parsed = schema.safeParse(data, { error: issueMessage });
  if (!parsed.success) {
    const at = locator(doc, lc);
    const errors = parsed.error.issues.flatMap((issue) => issueErrors(file, data, issue, at));
    const order = (e: ManifestError) => (e.position?.line ?? 0) * 1e6 + (e.position?.column ?? 0);
    throw configError(file, errors.sort((x, y) => order(x) - order(y)));
  }
  return data as Record<string, unknown>;
}
