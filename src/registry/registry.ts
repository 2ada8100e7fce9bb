/**
 * The registry boundary: where Services are registered and Subscriptions discover them.
 * Implementations: memory (embedded), zookeeper (Nerve/Synapse wire-compatible), etcd (leases).
 * All of them pass the same conformance suite (test/registry-conformance.ts).
 */

/** One registered instance, as it appears on the wire (Nerve's JSON). */
export interface Instance {
  readonly host: string;
  readonly port: number;
  /** The instance id; Nerve calls it "name". */
  readonly name: string;
  readonly weight?: number;
  readonly labels?: Readonly<Record<string, string>>;
}

/** A registry entry that was skipped, and why: registry data is untrusted. */
export interface Rejected {
  readonly key: string;
  readonly reason: string;
}

export interface Listing {
  /** Valid instances, deduplicated by host:port, sorted by host:port. */
  readonly instances: readonly Instance[];
  readonly rejected: readonly Rejected[];
}

/**
 * What changed under a watched path since the previous delivery, by address ("host:port", after
 * dedupe), read from the registry's watch cache: no round trip, work proportional to the change.
 */
export interface ListingChange {
  /**
   * The cache was rebuilt from a full read (first read, reconnect, session expiry, compaction):
   * changes before it may be missing from the deltas, so treat every address as changed.
   */
  readonly reset: boolean;
  readonly added: readonly Instance[];
  /** As last delivered. */
  readonly removed: readonly Instance[];
  /** Same address, new name, weight or labels. */
  readonly updated: readonly Instance[];
  /** Live view of the watch cache (address -> instance): later changes show through. */
  readonly current: ReadonlyMap<string, Instance>;
  /** Rejected entries as of this change. */
  readonly rejected: readonly Rejected[];
  /** The sorted Listing as of now; built on the first call. */
  listing(): Listing;
}

export type RegistryState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

/**
 * `signal` on an operation: stop waiting when it aborts (rejecting with its reason). What was already
 * sent may still take effect; the registry's own bookkeeping stays consistent either way.
 */
export interface Registry {
  /** "memory" | "zookeeper" | "etcd" */
  readonly kind: string;
  /**
   * Ensure `instance` is registered under `path` (idempotent: calling it again with the same data is
   * a no-op, with new data it updates). Returns the key/znode written. The registry keeps the
   * registration alive and restores it after session expiry / lease loss until `deregister`.
   * Throws RegistryError (transient when the registry is unreachable).
   */
  register(path: string, instance: Instance, signal?: AbortSignal): Promise<string>;
  /** Remove this agent's registration of `instanceName` under `path`; no-op when absent. */
  deregister(path: string, instanceName: string, signal?: AbortSignal): Promise<void>;
  /** Read the instances under `path` (missing path = empty listing). Throws RegistryError. */
  list(path: string, signal?: AbortSignal): Promise<Listing>;
  /**
   * Call `onChange` with what changed under `path` (first with a `reset` holding the whole listing
   * once read, again with `reset` after reconnect/session expiry/compaction). Deliveries are
   * coalesced; a caller that only enqueues may ignore the argument and re-list. Returns an unsubscribe.
   */
  watch(path: string, onChange: (change: ListingChange) => void): () => void;
  /** Current connection state and a listener for changes. Returns an unsubscribe. */
  onStateChange(cb: (state: RegistryState) => void): () => void;
  state(): RegistryState;
  /**
   * Stop keepalives and watches. Does not deregister: callers deregister first for a graceful stop.
   * When `signal` aborts, stop waiting for the registry to acknowledge and release everything now.
   */
  close(signal?: AbortSignal): Promise<void>;
}
