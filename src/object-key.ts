/**
 * The queue/status key of an object: "service/mysql", "subscription/db". The one module that makes
 * and parses keys; everything else treats a key as opaque.
 */
import type { Kind } from './manifest/schema.ts';

export type ServiceKey = `service/${string}`;
export type SubscriptionKey = `subscription/${string}`;
export type ObjectKey = ServiceKey | SubscriptionKey;
/** The key type of objects of kind `K`. */
export type KeyOf<K extends Kind> = K extends 'Service' ? ServiceKey : SubscriptionKey;

const PREFIX = { Service: 'service/', Subscription: 'subscription/' } as const satisfies Record<Kind, string>;

/** keyOf('Service', 'mysql') → "service/mysql". */
export const keyOf = <K extends Kind>(kind: K, name: string): KeyOf<K> => `${PREFIX[kind]}${name}` as KeyOf<K>;

/** "service/mysql" → { kind: 'Service', name: 'mysql' }; undefined for anything that is not a key. */
export function parseKey(key: string): { kind: Kind; name: string } | undefined {
  for (const kind of ['Service', 'Subscription'] as const) {
    if (key.startsWith(PREFIX[kind]) && key.length > PREFIX[kind].length) return { kind, name: key.slice(PREFIX[kind].length) };
  }
  return undefined;
}

/** `text` as an object key, or undefined when it is not one (input from a URL, a file, a flag). */
export function toKey(text: string): ObjectKey | undefined {
  const k = parseKey(text);
  return k && keyOf(k.kind, k.name);
}

/** True when `key` is an object key of `kind`. */
export const isKeyOf = (kind: Kind, key: string): key is ObjectKey => parseKey(key)?.kind === kind;

/** "service/mysql" → "mysql". */
export const nameOf = (key: ObjectKey): string => key.slice(key.indexOf('/') + 1);

/** "service/mysql" → "service": the kind as metric labels and file names spell it. */
export const kindLabelOf = (key: ObjectKey): string => key.slice(0, key.indexOf('/'));

/** "service/mysql" → "service-mysql": a file-name stem. */
export const fileStemOf = (key: ObjectKey): string => key.replace('/', '-');
