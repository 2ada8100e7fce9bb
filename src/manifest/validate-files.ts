/**
 * Whole-set validation for the CLI `validate`: every file's errors plus names duplicated across
 * files (the later file by sorted path gets the error; the first keeps working).
 */
import type { ManifestError } from '../errors.ts';
import type { FileResult, LoadedManifest } from './file-result.ts';
import { duplicateError } from './parse.ts';
import { ordinal } from '../ordinal.ts';

/** All errors of `results`, in sorted file order, including cross-file duplicate names. */
export function validateFiles(results: readonly FileResult[]): ManifestError[] {
  const sorted = [...results].sort((a, b) => ordinal(a.file, b.file));
  const first = new Map<string, LoadedManifest>();
  const errors: ManifestError[] = [];
  for (const r of sorted) {
    errors.push(...r.errors);
    for (const m of r.manifests) {
      const owner = first.get(m.key);
      if (!owner) first.set(m.key, m);
      else if (owner.file !== m.file) errors.push(duplicateError(m.file, m.position, m.manifest.kind, m.manifest.metadata.name, owner.file, owner.position));
    }
  }
  return errors;
}
