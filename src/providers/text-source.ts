/**
 * A ManifestSource of named in-memory texts: the manifests the seed-compatible commands generate
 * from flags, and the Docker provider's per-container documents. Each text is parsed exactly like
 * a file (located errors under its name, e.g. `<nerve-flags>:7:9 spec.port: …`).
 */
import type { FileResult } from '../manifest/file-result.ts';
import type { ManifestSource } from '../manifest/manifest-source.ts';
import { parseManifestText } from '../manifest/parse.ts';

export class TextSource implements ManifestSource {
  readonly #files = new Map<string, FileResult>();
  #emit: ((files: ReadonlyMap<string, FileResult>) => void) | undefined;

  /** `texts`: name → manifest text (YAML, possibly several documents). */
  constructor(texts: Iterable<readonly [string, string]> = []) {
    for (const [name, text] of texts) this.#files.set(name, parseManifestText(text, name));
  }

  async start(onSnapshot: (files: ReadonlyMap<string, FileResult>) => void): Promise<void> {
    this.#emit = onSnapshot;
    onSnapshot(new Map(this.#files));
  }

  /** Set (or with undefined, remove) one named text and emit the new snapshot. */
  set(name: string, text: string | undefined): void {
    if (text === undefined) this.#files.delete(name);
    else this.#files.set(name, parseManifestText(text, name));
    this.#emit?.(new Map(this.#files));
  }

  async close(): Promise<void> {
    this.#emit = undefined;
  }
}
