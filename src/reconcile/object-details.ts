/**
 * The observed facts each kind's status carries under `status.details`, typed per kind. The wire
 * shape is unchanged (`.status.details.registryKey`, `.status.details.backends`…); what changed is
 * that a writer can only set a field its kind has.
 */
import type { CheckStatus } from '../health/check-loop.ts';
import type { ObjectKey } from '../object-key.ts';
import type { Rejected } from '../registry/registry.ts';

/** Written by the Service controller, and `drain` by a drain through the status API. */
export interface ServiceDetails {
  instanceId?: string;
  host?: string;
  port?: number;
  path?: string;
  checks?: readonly CheckStatus[];
  /** The key or znode written; null while not registered. */
  registryKey?: string | null;
  drain?: { since: string; until: string; done: boolean } | null;
}

/** Where a Subscription's applied servers came from; "state-file": the set a previous agent saved; "adopted": what the HAProxy it left running served. */
export type BackendSource = 'registry' | 'fail-static' | 'state-file' | 'adopted' | 'defaults' | 'none';

/** Written by the Subscription controller. */
export interface SubscriptionDetails {
  /** "host:port" of each applied backend, sorted. */
  backends?: readonly string[];
  maintenance?: readonly string[];
  source?: BackendSource;
  /** When the fail-static set was last read from the registry; null when served from it now. */
  lastSeen?: string | null;
  listen?: string;
  /** The first REJECTED_SHOWN rejected entries by key; rejectedCount says how many there are in all. */
  rejected?: readonly Rejected[];
  rejectedCount?: number;
}

/** Every field of either kind: what a reader holding a key of no particular kind sees. */
export type AnyDetails = ServiceDetails & SubscriptionDetails;

/** The details of objects whose key is `K`. */
export type DetailsOf<K extends ObjectKey> = ObjectKey extends K ? AnyDetails : K extends `service/${string}` ? ServiceDetails : SubscriptionDetails;
