/**
 * The agent's `--config FILE`: YAML of its options, validated by their schema, with errors located
 * at file:line:column like a manifest's. Loaded only when a --config file is given (agent-config.ts).
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseAllDocuments } from 'yaml';
import { DockstackError, ManifestError, UsageError, USAGE_EXIT_CODE } from '../errors.ts';
import { issueMessage } from '../manifest/issue-format.ts';
import { collectionKeyError, issueErrors, locator, syntaxErrors } from '../manifest/located-issues.ts';
import { MAX_ALIAS_COUNT, MAX_MANIFEST_BYTES } from '../manifest/parse.ts';
import { nodePosition } from '../manifest/yaml-locate.ts';
import type { OptionsSchema } from './agent-config.ts';

/** A bad --config file (a usage error, exit 2). */
export class ConfigError extends DockstackError {
  constructor(message: string, opts: { context?: Record<string, unknown>; cause?: unknown; hint?: string } = {}) {
    super('E_CONFIG', message, { ...opts, exitCode: USAGE_EXIT_CODE });
  }
}

/** The ConfigError of `errors` in `file`: every located error, one per line. */
const configError = (file: string, errors: readonly ManifestError[]): ConfigError =>
  new ConfigError(errors.map((e) => e.message).join('\n'), { context: { file, errors } });

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
  const keyError = collectionKeyError(doc, lc, file);
  if (keyError) throw configError(file, [keyError]);
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
