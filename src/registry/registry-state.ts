import type { RegistryState } from './registry.ts';

/**
 * A registry's connection state and who listens to it: the part every implementation shares.
 * Listeners hear each change once; setting the current state again is a no-op.
 */
export class RegistryStateCell {
  private current: RegistryState;
  private readonly listeners = new Set<(s: RegistryState) => void>();

  constructor(initial: RegistryState, private readonly onChange?: (s: RegistryState) => void) {
    this.current = initial;
  }

  get value(): RegistryState {
    return this.current;
  }

  set(s: RegistryState): void {
    if (this.current === s) return;
    this.current = s;
    this.onChange?.(s);
    for (const cb of [...this.listeners]) cb(s);
  }

  /** Listen for changes; returns an unsubscribe. */
  subscribe(cb: (s: RegistryState) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
}
