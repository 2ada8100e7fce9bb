/**
 * Planning edits of the manifests directory for apply/delete/diff. Identity is kind/name (as in
 * kubectl): an object already defined in some file is edited in place (its document replaced or
 * removed, other documents and comments kept); a new one gets its own `<kind>-<name>.yaml`.
 * Writes are atomic: a dot-prefixed temp file in the same directory (the watcher ignores it),
 * fsync, rename.
 */
import { lstat, mkdir, realpath, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import YAML from 'yaml';
import { DockstackError, type ManifestError } from '../errors.ts';
import { readBounded, readStdin, type FileResult } from '../manifest/load.ts';
import { hasInlineSecret } from '../manifest/redact.ts';
import { parseManifestBytes } from '../manifest/parse.ts';
import { validateFiles } from '../manifest/validate-files.ts';
import { isWithin, walkManifests } from '../manifest/walk.ts';
import type { Manifest } from '../manifest/schema.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { fileStemOf, type ObjectKey } from '../object-key.ts';

/** One parsed file with its raw document texts (index-aligned with yaml's documents). */
export interface SourceFile {
  readonly file: string;
  readonly abs: string;
  readonly result: FileResult;
  readonly docs: string[];
}

export interface InputObject {
  readonly key: ObjectKey;
  readonly manifest: Manifest;
  readonly text: string;
}

export type Action = 'created' | 'configured' | 'unchanged' | 'deleted';

export interface Plan {
  readonly actions: Array<{ key: ObjectKey; action: Action; file: string; before: string; after: string }>;
  /** abs path → new content, or null to delete the file. */
  readonly writes: Map<string, string | null>;
}

/** Split YAML text into per-document source strings without "---"/"..." markers. */
export function splitDocs(text: string): string[] {
  return YAML.parseAllDocuments(text).map((d) =>
    String(d).replace(/^---[^\n]*\n/, '').replace(/\n\.\.\.\n?$/, '\n'),
  );
}

const joinDocs = (docs: readonly string[]) => docs.map((d) => (d.endsWith('\n') ? d : `${d}\n`)).join('---\n');

async function readSource(abs: string, file: string): Promise<SourceFile> {
  const bytes = abs === '-' ? await readStdin() : await readBounded(abs);
  const result = parseManifestBytes(bytes, file);
  const docs = result.fatal ? [] : splitDocs(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  return { file, abs, result, docs };
}

/** Read -f inputs (files, directories, "-"), parsed and with raw documents. */
export async function readInputs(paths: readonly string[], recursive: boolean): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(await readSource('-', '<stdin>'));
      continue;
    }
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) {
      for (const f of (await walkManifests(p, p, { recursive })).files) out.push(await readSource(f.abs, f.file));
    } else out.push(await readSource(p, p));
  }
  return out;
}

/** Every error in the inputs (per file and across files), each once, in file order. */
export function inputErrors(inputs: readonly SourceFile[]): ManifestError[] {
  return validateFiles(inputs.map((s) => s.result));
}

export function inputObjects(inputs: readonly SourceFile[]): InputObject[] {
  return inputs.flatMap((s) => s.result.manifests.map((m) => ({ key: m.key, manifest: m.manifest, text: s.docs[m.index] ?? YAML.stringify(m.manifest) })));
}

/** The manifests directory as it is now: files and an index key → (file, doc index). */
export async function readManifestDir(dir: string): Promise<{ files: Map<string, SourceFile>; index: Map<ObjectKey, { abs: string; doc: number; manifest: Manifest }> }> {
  const files = new Map<string, SourceFile>();
  const index = new Map<ObjectKey, { abs: string; doc: number; manifest: Manifest }>();
  for (const f of (await walkManifests(dir, dir, { recursive: true })).files) {
    const src = await readSource(f.abs, f.file);
    files.set(f.abs, src);
    for (const m of src.result.manifests) if (!index.has(m.key)) index.set(m.key, { abs: f.abs, doc: m.index, manifest: m.manifest });
  }
  return { files, index };
}

/** Plan applying `objects` to `dir`. */
export async function planApply(dir: string, objects: readonly InputObject[]): Promise<Plan> {
  const { files, index } = await readManifestDir(dir);
  const docsOf = new Map<string, Array<string | null>>();
  const plan: Plan = { actions: [], writes: new Map() };
  for (const o of objects) {
    const at = index.get(o.key);
    if (!at) {
      const stem = fileStemOf(o.key);
      let abs = join(dir, `${stem}.yaml`);
      for (let i = 2; files.has(abs) || plan.writes.has(abs); i++) abs = join(dir, `${stem}-${i}.yaml`);
      plan.writes.set(abs, o.text);
      plan.actions.push({ key: o.key, action: 'created', file: abs, before: '', after: o.text });
      continue;
    }
    const docs = docsOf.get(at.abs) ?? [...(files.get(at.abs)?.docs ?? [])];
    docsOf.set(at.abs, docs);
    const before = docs[at.doc] ?? '';
    if (isDeepStrictEqual(at.manifest, o.manifest)) {
      plan.actions.push({ key: o.key, action: 'unchanged', file: at.abs, before, after: before });
      continue;
    }
    docs[at.doc] = o.text;
    plan.actions.push({ key: o.key, action: 'configured', file: at.abs, before, after: o.text });
  }
  for (const [abs, docs] of docsOf) if (plan.actions.some((a) => a.file === abs && a.action === 'configured')) plan.writes.set(abs, joinDocs(docs.filter((d): d is string => d !== null)));
  return plan;
}

/** Plan deleting `keys` from `dir`; keys not found are returned separately. */
export async function planDelete(dir: string, keys: readonly ObjectKey[]): Promise<Plan & { missing: ObjectKey[] }> {
  const { files, index } = await readManifestDir(dir);
  const docsOf = new Map<string, Array<string | null>>();
  const plan = { actions: [] as Plan['actions'], writes: new Map<string, string | null>(), missing: [] as ObjectKey[] };
  for (const key of keys) {
    const at = index.get(key);
    if (!at) {
      plan.missing.push(key);
      continue;
    }
    const docs = docsOf.get(at.abs) ?? [...(files.get(at.abs)?.docs ?? [])];
    docsOf.set(at.abs, docs);
    plan.actions.push({ key, action: 'deleted', file: at.abs, before: docs[at.doc] ?? '', after: '' });
    docs[at.doc] = null;
  }
  for (const [abs, docs] of docsOf) {
    const left = docs.filter((d): d is string => d !== null && d.trim() !== '');
    plan.writes.set(abs, left.length ? joinDocs(left) : null);
  }
  return plan;
}

/**
 * Carry out a plan's writes atomically (temp + fsync + rename) or unlink, only inside `root`: a
 * directory reached through a symlink pointing elsewhere is refused. A file carrying an inline
 * secret is written 0600 (otherwise 0644, or the existing file's stricter mode).
 */
export async function executePlan(plan: Plan, root: string): Promise<void> {
  for (const [abs, content] of plan.writes) {
    if (content !== null) await mkdir(dirname(abs), { recursive: true });
    const realRoot = await realpath(root).catch(() => undefined);
    const dir = await realpath(dirname(abs));
    if (realRoot === undefined || !isWithin(realRoot, dir))
      throw new DockstackError('E_OUTSIDE_MANIFESTS', `${content === null ? 'deleting' : 'writing'} ${abs}: its directory resolves to ${dir}, outside ${root}`, { hint: 'a symlinked directory leads out of --manifests; edit that file directly' });
    if (content === null) {
      await unlink(abs);
      continue;
    }
    const secret = parseManifestBytes(Buffer.from(content), abs).manifests.some((m) => hasInlineSecret(m.manifest));
    const existing = await lstat(abs).catch(() => undefined);
    const mode = secret ? 0o600 : existing?.isFile() ? existing.mode & 0o644 : 0o644;
    await writeFileAtomic(abs, content, { mode });
  }
}

