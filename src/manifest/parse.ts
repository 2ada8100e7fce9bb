/**
 * Parsing one manifest file's bytes/text into located results. Multi-document YAML (JSON is YAML);
 * every issue becomes its own ManifestError "file:line:col field: detail". Hostile input is bounded:
 * size, alias expansion, binary content.
 */
import { LineCounter, isMap, isScalar, parseAllDocuments, type Document } from 'yaml';
import { ManifestError } from '../errors.ts';
import { fatalResult, type FileResult, type LoadedManifest } from './file-result.ts';
import { describeValue, issueMessage } from './issue-format.ts';
import { keyOf, type ObjectKey } from '../object-key.ts';
import { KINDS, Manifest, type Kind } from './schema.ts';
import { collectionKeyError, issueErrors, locator, syntaxErrors } from './located-issues.ts';
import { nodePosition } from './yaml-locate.ts';
import { plainDocuments } from './plain-yaml.ts';

/** Files larger than this are refused as a whole (one located error). */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Flow collections ("[[[…" / "{{{…") nested deeper than this are refused before the parser can blow its stack. */
export const MAX_FLOW_DEPTH = 64;
/** Aliases a document may expand: billion-laughs fails fast with bounded memory. */
export const MAX_ALIAS_COUNT = 100;

/** Parse raw file bytes: refuses oversized, binary (NUL) and non-UTF-8 content, then parses the text. */
export function parseManifestBytes(bytes: Uint8Array, file: string): FileResult {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) return tooLarge(file, bytes.byteLength);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (err) {
    return fatalResult(file, [new ManifestError('binary content: not valid UTF-8', { context: { file, position: { line: 1, column: 1 } }, cause: err })]);
  }
  return parseManifestText(text, file);
}

/**
 * Parse manifest text. `file` is only used in error messages and results. `plain: false` skips the
 * fast path (plain-yaml.ts), for the test that holds it to the parser of record.
 */
export function parseManifestText(text: string, file: string, { plain = true } = {}): FileResult {
  if (text.length > MAX_MANIFEST_BYTES && Buffer.byteLength(text) > MAX_MANIFEST_BYTES) return tooLarge(file, Buffer.byteLength(text));
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const nul = src.indexOf('\0');
  if (nul >= 0) {
    const before = src.slice(0, nul);
    const line = before.split('\n').length;
    const column = nul - before.lastIndexOf('\n');
    return fatalResult(file, [new ManifestError('binary content: NUL byte', { context: { file, position: { line, column } } })]);
  }
  const deep = tooDeep(src);
  if (deep) return fatalResult(file, [new ManifestError(`nesting deeper than ${MAX_FLOW_DEPTH} levels`, { context: { file, position: deep } })]);
  return (plain ? plainResult(src, file) : undefined) ?? yamlResult(src, file);
}

/** A text of valid manifests only, read by the fast path; undefined when `yaml` must read it. */
function plainResult(src: string, file: string): FileResult | undefined {
  const docs = plainDocuments(src);
  if (!docs) return undefined;
  const manifests: LoadedManifest[] = [];
  const seen = new Set<ObjectKey>();
  for (const [index, { data, position }] of docs.entries()) {
    if (data === null) continue;
    const parsed = Manifest.safeParse(data);
    if (!parsed.success) return undefined;
    const key = keyOf(parsed.data.kind, parsed.data.metadata.name);
    if (seen.has(key)) return undefined;
    seen.add(key);
    manifests.push({ manifest: parsed.data, key, file, index, position });
  }
  return { file, manifests, errors: [], errorKeys: new Map(), fatal: false };
}

/** The parser of record, which locates every error. */
function yamlResult(src: string, file: string): FileResult {
  const lc = new LineCounter();
  let docs: Document.Parsed[];
  try {
    const parsed = parseAllDocuments(src, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    docs = Array.isArray(parsed) ? parsed : [];
  } catch (err) {
    return fatalResult(file, [new ManifestError(`cannot parse YAML: ${(err as Error).message}`, { context: { file, position: { line: 1, column: 1 } }, cause: err })]);
  }
  const syntax = syntaxErrors(docs, lc, file);
  if (syntax.length > 0) return fatalResult(file, syntax);

  const result = { file, manifests: [] as LoadedManifest[], errors: [] as ManifestError[], errorKeys: new Map<ManifestError, ObjectKey>(), fatal: false };
  const seen = new Map<ObjectKey, LoadedManifest>();
  docs.forEach((doc, index) => {
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return; // an empty document is fine
    const position = nodePosition(lc, doc.contents, doc.range[0]);
    const at = locator(doc, lc);
    // A document that cannot become data still names its object from its own kind and name, so
    // that the object's last good manifest stays in force instead of going as if it were deleted.
    const refuse = (e: ManifestError): void => {
      const key = readableKey({ kind: doc.get('kind'), metadata: { name: doc.getIn(['metadata', 'name']) } });
      result.errors.push(e);
      if (key) result.errorKeys.set(e, key);
    };
    const keyError = collectionKeyError(doc, lc, file);
    if (keyError) return refuse(keyError);
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      return refuse(new ManifestError(`cannot expand document: ${(err as Error).message}`, { context: { file, position }, cause: err }));
    }
    if (!isMap(doc.contents) || data === null || typeof data !== 'object' || Array.isArray(data)) {
      result.errors.push(new ManifestError(`expected a mapping with apiVersion, kind, metadata and spec, got ${describeValue(data)}`, { context: { file, position } }));
      return;
    }
    const key = readableKey(data as Record<string, unknown>);
    const parsed = Manifest.safeParse(data, { error: issueMessage });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        for (const e of issueErrors(file, data, issue, at)) {
          result.errors.push(e);
          if (key) result.errorKeys.set(e, key);
        }
      }
      return;
    }
    const m = parsed.data;
    const k = keyOf(m.kind, m.metadata.name);
    const first = seen.get(k);
    if (first) {
      const e = duplicateError(file, at(['metadata', 'name']), m.kind, m.metadata.name, first.file, first.position);
      result.errors.push(e);
      result.errorKeys.set(e, k);
      return;
    }
    const loaded: LoadedManifest = { manifest: m, key: k, file, index, position };
    seen.set(k, loaded);
    result.manifests.push(loaded);
  });
  return result;
}

/** "duplicate Service "db": already defined at a.yaml:3:1" — the later definition is the error. */
export function duplicateError(file: string, position: { line: number; column: number }, kind: Kind, name: string, firstFile: string, firstPos: { line: number; column: number }): ManifestError {
  return new ManifestError(`duplicate ${kind} ${JSON.stringify(name)}: already defined at ${firstFile}:${firstPos.line}:${firstPos.column}`, { context: { file, position, field: 'metadata.name' } });
}

function readableKey(data: Record<string, unknown>): ObjectKey | undefined {
  const kind = data['kind'];
  const meta = data['metadata'];
  const name = meta !== null && typeof meta === 'object' ? (meta as Record<string, unknown>)['name'] : undefined;
  if (!KINDS.includes(kind as Kind) || typeof name !== 'string' || name === '') return undefined;
  return keyOf(kind as Kind, name);
}

function tooLarge(file: string, bytes: number): FileResult {
  return fatalResult(file, [new ManifestError(`file is ${bytes} bytes, larger than the ${MAX_MANIFEST_BYTES}-byte limit`, { context: { file, position: { line: 1, column: 1 } } })]);
}

// A lexical pre-scan (quotes and comments skipped, O(n)): where flow nesting first exceeds the limit.
function tooDeep(src: string): { line: number; column: number } | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let quote = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      if (quote === '#') quote = '';
    } else if (quote) {
      if (c === quote && quote !== '#') quote = '';
      else if (c === '\\' && quote === '"') i++;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(src[i - 1] ?? ''))) quote = '#';
    else if (c === '[' || c === '{') {
      if (++depth > MAX_FLOW_DEPTH) return { line, column: i - lineStart + 1 };
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return undefined;
}
