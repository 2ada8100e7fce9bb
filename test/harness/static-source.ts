/** A ManifestSource driven by the test: set file texts, get a snapshot emitted at once. */
import type { FileResult } from '../../src/manifest/file-result.ts';
import { parseManifestText } from '../../src/manifest/parse.ts';

export class StaticSource {
  private readonly files = new Map<string, FileResult>();
  private emit: ((files: ReadonlyMap<string, FileResult>) => void) | undefined;

  async start(onSnapshot: (files: ReadonlyMap<string, FileResult>) => void): Promise<void> {
    this.emit = onSnapshot;
    onSnapshot(new Map(this.files));
  }

  /** Set (or with undefined, delete) a file and emit the new snapshot. */
  set(file: string, text: string | undefined): void {
    if (text === undefined) this.files.delete(file);
    else this.files.set(file, parseManifestText(text, file));
    this.emit?.(new Map(this.files));
  }

  async close(): Promise<void> {
    this.emit = undefined;
  }
}

export const service = (name: string, spec: string) =>
  `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
export const subscription = (name: string, spec: string) =>
  `apiVersion: dockstack.io/v1alpha1\nkind: Subscription\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
