/**
 * Desired state built from whole snapshots of files. Fail static: a document that stops validating,
 * or a file that stops parsing, leaves the last good manifest in force (with its errors recorded);
 * only deleting the file (or the document) removes a manifest.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ManifestError, Position } from '../errors.ts';
import type { ObjectKey } from '../object-key.ts';
import type { FileResult } from './file-result.ts';
import { duplicateError } from './parse.ts';
import type { Kind, Manifest } from './schema.ts';
import { ordinal } from '../ordinal.ts';

/** A manifest in force. `generation` is bumped only when its spec changes (metadata-only edits don't). */
export interface StoredManifest {
  readonly key: ObjectKey;
  readonly manifest: Manifest;
  readonly generation: number;
  readonly file: string;
  readonly position: Position;
  /** The revision (git commit) this manifest came from: the first snapshot that held it as it is. */
  readonly revision?: string;
}

// One file's claim on a key in a snapshot: a valid manifest, or a failed/unparseable one.
interface Claim {
  readonly file: string;
  readonly fresh?: { manifest: Manifest; position: Position };
  readonly errors: ManifestError[];
  readonly revision: string | undefined;
}

/** The desired-state store. Not thread-hopping: `update` is synchronous and whole-snapshot. */
export class ManifestStore {
  #desired = new Map<ObjectKey, StoredManifest>();
  #errors = new Map<ObjectKey, readonly ManifestError[]>();
  #unattributed: readonly ManifestError[] = [];
  #failedRevisions = new Map<ObjectKey, string>();
  #generations = new Map<ObjectKey, number>(); // survives deletion, so generations never go back

  /** Replace the file set with `snapshot`; returns the keys whose manifest, validity or errors changed (sorted). */
  update(snapshot: ReadonlyMap<string, FileResult>): ObjectKey[] {
    const claims = new Map<ObjectKey, Claim[]>();
    const claim = (key: ObjectKey, c: Claim) => (claims.get(key) ?? claims.set(key, []).get(key)!).push(c);
    const unattributed: ManifestError[] = [];
    // The objects `file` held that `keep` picks stay in force with `errors`; with none, the errors are the file's own.
    const hold = (file: string, errors: ManifestError[], revision: string | undefined, keep: (s: StoredManifest) => boolean): void => {
      const kept = [...this.#desired.values()].filter((s) => s.file === file && keep(s));
      for (const s of kept) claim(s.key, { file, errors, revision });
      if (kept.length === 0) unattributed.push(...errors);
    };
    /** Per file that parsed, its errors that name no object (a document that is not a mapping, say). */
    const unnamed = new Map<string, { errors: ManifestError[]; revision: string | undefined }>();

    for (const file of [...snapshot.keys()].sort(ordinal)) {
      const r = snapshot.get(file)!;
      if (r.fatal) {
        hold(r.file, r.errors, r.revision, () => true);
        continue;
      }
      for (const m of r.manifests) claim(m.key, { file: r.file, fresh: { manifest: m.manifest, position: m.position }, errors: [], revision: r.revision });
      const failed = new Map<ObjectKey, ManifestError[]>();
      for (const e of r.errors) {
        const key = r.errorKeys.get(e);
        if (key === undefined) (unnamed.get(r.file) ?? unnamed.set(r.file, { errors: [], revision: r.revision }).get(r.file)!).errors.push(e);
        else if (r.manifests.some((m) => m.key === key)) claims.get(key)!.at(-1)!.errors.push(e); // in-file duplicate
        else (failed.get(key) ?? failed.set(key, []).get(key)!).push(e);
      }
      for (const [key, errors] of failed) claim(key, { file: r.file, errors, revision: r.revision });
    }
    // A document that names no object may be the one that held an object of its file before: each
    // object the file held and no file claims now stays in force with those errors, as for a file
    // that stopped parsing. Only removing a document while another of its file is broken is held
    // back by this, until the file is fixed.
    for (const [file, u] of unnamed) hold(file, u.errors, u.revision, (s) => !claims.has(s.key));

    const desired = new Map<ObjectKey, StoredManifest>();
    const errors = new Map<ObjectKey, readonly ManifestError[]>();
    const failedRevisions = new Map<ObjectKey, string>();
    for (const [key, list] of claims) {
      const prev = this.#desired.get(key);
      const owner = list.find((c) => c.file === prev?.file) ?? list.find((c) => c.fresh) ?? list[0]!;
      const errs = [...owner.errors];
      for (const c of list) {
        if (c === owner) continue;
        errs.push(...c.errors);
        const ownerPos = owner.fresh?.position ?? prev?.position ?? { line: 1, column: 1 };
        const m = c.fresh?.manifest;
        if (m && c.fresh) errs.push(duplicateError(c.file, c.fresh.position, m.kind, m.metadata.name, owner.file, ownerPos));
      }
      if (errs.length > 0) errors.set(key, errs);
      const failing = owner.errors.length > 0 ? owner : list.find((c) => c.errors.length > 0);
      if (failing?.revision !== undefined) failedRevisions.set(key, failing.revision);
      if (owner.fresh) desired.set(key, this.#stored(key, owner.file, owner.fresh.manifest, owner.fresh.position, prev, owner.revision));
      else if (prev) desired.set(key, prev); // last good stays in force
    }

    const changed = new Set<ObjectKey>();
    for (const key of new Set([...this.#desired.keys(), ...desired.keys(), ...this.#errors.keys(), ...errors.keys()])) {
      const a = this.#desired.get(key);
      const b = desired.get(key);
      if (a !== b || messages(this.#errors.get(key)) !== messages(errors.get(key)) || this.#failedRevisions.get(key) !== failedRevisions.get(key)) changed.add(key);
    }
    this.#desired = desired;
    this.#errors = errors;
    this.#failedRevisions = failedRevisions;
    this.#unattributed = unattributed;
    return [...changed].sort(ordinal);
  }

  /** The manifest in force for `key` ("service/db"), if any. */
  get(key: ObjectKey): StoredManifest | undefined {
    return this.#desired.get(key);
  }

  /** Manifests in force, sorted by key, optionally of one kind. */
  list(kind?: Kind): StoredManifest[] {
    return [...this.#desired.values()].filter((s) => kind === undefined || s.manifest.kind === kind).sort((a, b) => ordinal(a.key, b.key));
  }

  /** Current errors for `key`: its failed documents, duplicates elsewhere, or its unparseable file. */
  errors(key: ObjectKey): readonly ManifestError[] {
    return this.#errors.get(key) ?? [];
  }

  /** The revision whose manifest for `key` fails validation (the last good one, if any, stays in force). */
  failedRevision(key: ObjectKey): string | undefined {
    return this.#failedRevisions.get(key);
  }

  /** Errors with no readable key (syntax errors, documents without kind/name, unparseable new files). */
  unattributedErrors(): readonly ManifestError[] {
    return this.#unattributed;
  }

  /** Every key with a manifest in force or errors, sorted. */
  keys(): ObjectKey[] {
    return [...new Set([...this.#desired.keys(), ...this.#errors.keys()])].sort(ordinal);
  }

  // Reuses the previous object when nothing changed, so "changed" is an identity check.
  #stored(key: ObjectKey, file: string, manifest: Manifest, position: Position, prev: StoredManifest | undefined, revision: string | undefined): StoredManifest {
    if (prev && prev.file === file && isDeepStrictEqual(prev.manifest, manifest) && isDeepStrictEqual(prev.position, position)) return prev;
    const specSame = prev !== undefined && isDeepStrictEqual(prev.manifest.spec, manifest.spec);
    const generation = specSame ? prev.generation : (this.#generations.get(key) ?? 0) + 1;
    this.#generations.set(key, generation);
    return { key, manifest, generation, file, position, ...(revision !== undefined && { revision }) };
  }
}

const messages = (errs: readonly ManifestError[] | undefined): string => (errs ?? []).map((e) => e.message).join('\n');
