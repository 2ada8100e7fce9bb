/**
 * What every controller is handed: desired state (manifest store), the status store, a way to
 * enqueue keys (watch callbacks only ever do that) and a logger.
 */
import type { Position } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Manifest } from '../manifest/schema.ts';
import type { ObjectKey } from '../object-key.ts';
import type { StatusStore } from './status-store.ts';

/** The read side of the manifest store that controllers need. */
export interface DesiredState {
  get(key: ObjectKey): { manifest: Manifest; generation: number; file?: string; position?: Position } | undefined;
}

export interface ControllerContext {
  readonly desired: DesiredState;
  readonly status: StatusStore;
  readonly enqueue: (key: ObjectKey) => void;
  readonly log: Logger;
}
