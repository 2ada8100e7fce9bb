/**
 * What reading one manifest file produced: the valid manifests, every located error, and which
 * keys failed. One bad document never hides the good ones next to it.
 */
import type { ManifestError, Position } from '../errors.ts';
import type { ObjectKey } from '../object-key.ts';
import type { Manifest } from './schema.ts';

/** A valid manifest and where it came from. `index` is the document index within the file. */
export interface LoadedManifest {
  readonly manifest: Manifest;
  readonly key: ObjectKey;
  readonly file: string;
  readonly index: number;
  readonly position: Position;
}

/**
 * The outcome of parsing one file.
 * - `errorKeys`: the key each error belongs to (absent: no readable key, e.g. a syntax error).
 * - `fatal`: the file as a whole is unreadable/unparseable; its previous manifests must be kept.
 */
export interface FileResult {
  readonly file: string;
  readonly manifests: LoadedManifest[];
  readonly errors: ManifestError[];
  readonly errorKeys: ReadonlyMap<ManifestError, ObjectKey>;
  readonly fatal: boolean;
  /** The revision (git commit) of the directory when this content was read; absent outside a checkout. */
  readonly revision?: string;
}

/** A result for a file that could not be used at all (too large, binary, unreadable). */
export function fatalResult(file: string, errors: ManifestError[]): FileResult {
  return { file, manifests: [], errors, errorKeys: new Map(), fatal: true };
}
