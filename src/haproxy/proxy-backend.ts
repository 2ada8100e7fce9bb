/**
 * The proxy boundary: what the Subscription controller asks of the local proxy. The HAProxy
 * implementation turns these into runtime-API edits (and, only when needed, a reload); the
 * recording implementation keeps the calls for unit tests of the reconciler.
 */
import type { SubscriptionManifest } from '../manifest/schema.ts';

export type SubscriptionSpec = SubscriptionManifest['spec'];

/** A server a listener should route to. Hosts and ports are already validated. */
export interface BackendServer {
  readonly host: string;
  readonly port: number;
  readonly weight?: number;
  /** Held in maintenance: no new traffic (HAProxy "maint"). */
  readonly maintenance?: boolean;
}

export interface ProxyApplyResult {
  /** Whether a reload happened (and why); membership changes should not need one. */
  readonly reloaded: boolean;
  readonly reasons: readonly string[];
  /** Runtime API commands sent. */
  readonly runtimeOps: number;
}

/** What HAProxy itself reports for one server (from its stats). */
export interface ServerStatus {
  readonly address: string;
  /** HAProxy's status word: UP, DOWN, MAINT, DRAIN, NOLB, "no check"... */
  readonly status: string;
  readonly weight: number;
  readonly checkStatus?: string;
}

export interface ProxyBackend {
  /**
   * Converge the listener `name` to `spec` routing to `servers`. Resolves once HAProxy serves that
   * state; throws HaproxyError when it cannot (the last good state keeps serving).
   */
  apply(name: string, spec: SubscriptionSpec, servers: readonly BackendServer[]): Promise<ProxyApplyResult>;
  /** Remove the listener `name` (draining its servers first). No-op when absent. */
  remove(name: string): Promise<void>;
  /** The servers of `name` as the proxy sees them; [] when unknown. */
  status(name: string): Promise<readonly ServerStatus[]>;
  /** Stop using the proxy; `stopHaproxy: false` leaves it serving for the next agent to adopt. */
  close(opts?: { stopHaproxy?: boolean }): Promise<void>;
}
