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

export type RegistryState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

export interface Registry {
  /** "memory" | "zookeeper" | "etcd" */
  readonly kind: string;
  /**
   * Ensure `instance` is registered under `path` (idempotent: calling it again with the same data is
   * a no-op, with new data it updates). Returns the key/znode written. The registry keeps the
   * registration alive and restores it after session expiry / lease loss until `deregister`.
   * Throws RegistryError (transient when the registry is unreachable).
   */
  register(path: string, instance: Instance): Promise<string>;
  /** Remove this agent's registration of `instanceName` under `path`; no-op when absent. */
  deregister(path: string, instanceName: string): Promise<void>;
  /** Read the instances under `path` (missing path = empty listing). Throws RegistryError. */
  list(path: string): Promise<Listing>;
  /**
   * Call `onChange` (no arguments: level-based, the caller re-lists) whenever the instances under
   * `path` may have changed, including after reconnect/session expiry. Returns an unsubscribe.
   */
  watch(path: string, onChange: () => void): () => void;
  /** Current connection state and a listener for changes. Returns an unsubscribe. */
  onStateChange(cb: (state: RegistryState) => void): () => void;
  state(): RegistryState;
  /** Stop keepalives and watches. Does not deregister: callers deregister first for a graceful stop. */
  close(): Promise<void>;
}
