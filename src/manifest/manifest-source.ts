import type { FileResult } from './file-result.ts';

/**
 * Where manifests come from. A source only emits whole snapshots (file → result), so one bad file
 * cannot sink the others and "latest wins" lives in the consumer. `start` resolves once the first
 * snapshot was delivered; `close` releases every watcher and timer.
 */
export interface ManifestSource {
  start(onSnapshot: (files: ReadonlyMap<string, FileResult>) => void): Promise<void>;
  close(): Promise<void>;
  /** The revision (git commit) in force, for sources that have one; read once per change, not per call. */
  revision?(): string | undefined;
}
