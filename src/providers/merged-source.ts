/**
 * Several ManifestSources seen as one: every snapshot is the union of each source's latest
 * snapshot, so the directory, the seed flags and the Docker provider feed one desired-state store.
 * Names must not collide across sources (each source has its own scheme: relative paths,
 * `<nerve-flags>`, `docker://name`); on a collision the earlier source wins.
 */
import type { FileResult } from '../manifest/file-result.ts';
import type { ManifestSource } from '../manifest/manifest-source.ts';

export class MergedSource implements ManifestSource {
  readonly #latest: Array<ReadonlyMap<string, FileResult> | undefined>;
  #started = false;

  constructor(private readonly sources: readonly ManifestSource[]) {
    this.#latest = sources.map(() => undefined);
  }

  /** Resolves once every source delivered its first snapshot; the first merged one is emitted then. */
  async start(onSnapshot: (files: ReadonlyMap<string, FileResult>) => void): Promise<void> {
    const emit = () => {
      if (this.#started) onSnapshot(this.#merge());
    };
    try {
      await Promise.all(
        this.sources.map((s, i) =>
          s.start((files) => {
            this.#latest[i] = files;
            emit();
          }),
        ),
      );
    } catch (err) {
      await this.close();
      throw err;
    }
    // Emitting only once all have started avoids a first store update that lacks a source's objects.
    this.#started = true;
    emit();
  }

  async close(): Promise<void> {
    this.#started = false;
    await Promise.allSettled(this.sources.map((s) => s.close()));
  }

  /** The first source's revision that has one (the manifests directory). */
  revision(): string | undefined {
    for (const s of this.sources) {
      const r = s.revision?.();
      if (r !== undefined) return r;
    }
    return undefined;
  }

  #merge(): Map<string, FileResult> {
    const out = new Map<string, FileResult>();
    for (const files of this.#latest) for (const [name, r] of files ?? []) if (!out.has(name)) out.set(name, r);
    return out;
  }
}
