/**
 * Which Subscription owns each listen address: the first to claim one keeps it while it still
 * wants it, a later claimant is refused with the holder's name, and is woken when the address frees.
 */
import type { ObjectKey } from '../object-key.ts';

export class ListenClaims {
  private readonly holders = new Map<string, ObjectKey>();
  private readonly byKey = new Map<ObjectKey, string>();
  private readonly waiting = new Map<string, Set<ObjectKey>>();

  constructor(private readonly wake: (key: ObjectKey) => void) {}

  /** Claim `address` for `key` (releasing its previous one); resolves the holder when another key has it. */
  claim(key: ObjectKey, address: string): ObjectKey | undefined {
    const holder = this.holders.get(address);
    if (holder !== undefined && holder !== key) {
      this.release(key);
      (this.waiting.get(address) ?? this.waiting.set(address, new Set()).get(address)!).add(key);
      return holder;
    }
    if (this.byKey.get(key) !== address) this.release(key);
    this.holders.set(address, key);
    this.byKey.set(key, address);
    return undefined;
  }

  /** `key` no longer listens anywhere: its address goes to whoever waits for it. */
  release(key: ObjectKey): void {
    const address = this.byKey.get(key);
    for (const w of this.waiting.values()) w.delete(key);
    if (address === undefined) return;
    this.byKey.delete(key);
    this.holders.delete(address);
    for (const k of this.waiting.get(address) ?? []) this.wake(k);
    this.waiting.delete(address);
  }
}
