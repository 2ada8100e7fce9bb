/**
 * The proxy boundary: what a controller asks of a local data plane, in the data plane's own
 * neutral words (no HAProxy terms, no manifest types). A listener is named by its owner and is
 * distinct from its address, so later shapes fit without changing this contract: several routes
 * sharing one HTTP frontend (a `routes` field keyed by host/path), TLS on the listener (`tls`),
 * and endpoint locality or selectors (the `labels` carried by every endpoint).
 */

/** An address to listen on or connect to; `host` is an IP literal or an RFC 1123 hostname. */
export interface SocketAddress {
  readonly host: string;
  readonly port: number;
}

/** How the proxy decides an endpoint is fit for traffic; intervals in milliseconds. */
export type EndpointCheck =
  | { readonly kind: 'none' }
  | { readonly kind: 'tcp'; readonly intervalMs: number; readonly rise: number; readonly fall: number }
  | { readonly kind: 'http'; readonly path: string; readonly hostHeader?: string; readonly intervalMs: number; readonly rise: number; readonly fall: number }
  | { readonly kind: 'mysql'; readonly user: string; readonly intervalMs: number; readonly rise: number; readonly fall: number }
  | { readonly kind: 'redis'; readonly intervalMs: number; readonly rise: number; readonly fall: number };

export type Balance = 'round-robin' | 'least-connections' | 'first' | 'source-hash' | 'random';

/** Everything about a listener except its endpoints. A change here may cost a proxy restart. */
export interface ListenerSpec {
  readonly listen: SocketAddress;
  readonly protocol: 'tcp' | 'http';
  readonly balance: Balance;
  readonly check: EndpointCheck;
  readonly timeouts: { readonly connectMs: number; readonly clientMs: number; readonly serverMs: number };
  /** Record each connection (tcp) or request (http); undefined = the proxy's default. */
  readonly accessLog?: boolean;
}

/** Somewhere a listener routes to. Host and port are validated by the caller. */
export interface Endpoint extends SocketAddress {
  /** Relative share of traffic, 0–256; default 1. 0 = connected but no new traffic by balance. */
  readonly weight?: number;
  /** Held out of rotation (no new traffic) while kept in the set. */
  readonly maintenance?: boolean;
  /** The registry entry's labels: for selectors and locality. Proxies may ignore them. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Endpoints changed since a listener's last apply or update, by address. */
export interface EndpointChange {
  /** Added, or replacing the endpoint at the same address (weight, maintenance, labels). */
  readonly set: readonly Endpoint[];
  readonly removed: readonly SocketAddress[];
}

/** Why a proxy had to restart its data plane instead of editing it live. */
export type ReloadCause = 'listener-added' | 'listener-changed' | 'listener-removed' | 'every-change' | 'runtime-diverged';
export interface ReloadReason {
  readonly cause: ReloadCause;
  readonly listener: string;
}
export const describeReason = (r: ReloadReason): string => `${r.cause.replace('-', ' ')}: ${r.listener}`;

export interface ApplyResult {
  /** Whether a reload carried this apply, and every reason coalesced into it. */
  readonly reloaded: boolean;
  readonly reasons: readonly ReloadReason[];
  /** Live edits sent (0 when nothing changed or a reload did the work). */
  readonly runtimeOps: number;
}

/** What the data plane itself reports for one endpoint. */
export interface EndpointStatus {
  /** "host:port", IPv6 bracketed, as the proxy routes to it. */
  readonly address: string;
  readonly state: 'up' | 'down' | 'unchecked' | 'maintenance' | 'draining';
  readonly weight: number;
  /** The proxy's own word and last check result, for humans ("UP", "L7OK"). */
  readonly detail?: string;
  /** The last health check's result word ("L4OK", "L4CON", "L7STS") and how long it took. */
  readonly check?: { readonly status: string; readonly durationMs?: number };
  /** Connections open to it now. */
  readonly sessions?: number;
  /** Seconds since its state last changed. */
  readonly lastChangeSeconds?: number;
}

/**
 * A local data plane. Calls for one listener name are made one at a time by its owner; calls for
 * different names may overlap. `signal` ends the caller's wait (rejecting with its reason); the
 * data plane still converges to the last state it was given, so the next call starts from it.
 */
export interface Proxy {
  /**
   * Converge listener `name` to `spec` routing to `endpoints`. Resolves once the data plane serves
   * that state; throws a DockstackError when it cannot (a ListenerConflictError for an address the
   * listener cannot have, a TerminalError for a spec the data plane refuses, which only a new spec
   * changes), and the listener keeps its last good state.
   */
  apply(name: string, spec: ListenerSpec, endpoints: readonly Endpoint[], signal?: AbortSignal): Promise<ApplyResult>;
  /**
   * Change some endpoints of listener `name` (spec unchanged): the same contract as `apply` with the
   * endpoint set edited by `change`, at a cost proportional to the change, not to the set. Throws
   * when `name` was never applied.
   */
  update(name: string, change: EndpointChange, signal?: AbortSignal): Promise<ApplyResult>;
  /** Remove listener `name`, letting open connections drain. No-op when absent. */
  remove(name: string, signal?: AbortSignal): Promise<void>;
  /** The endpoints of `name` as the data plane sees them; [] when unknown. */
  status(name: string): Promise<readonly EndpointStatus[]>;
  /**
   * The servers of `name` an adopted data plane (left running by a previous agent) served when it
   * was adopted and this agent has not applied since; undefined when there are none.
   */
  adopted?(name: string): readonly SocketAddress[] | undefined;
  /** Stop managing the data plane; `keepServing` leaves it running for the next agent to adopt. */
  close(opts?: { keepServing?: boolean }): Promise<void>;
}
