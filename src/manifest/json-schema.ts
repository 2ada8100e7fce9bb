/**
 * JSON Schema for editors (yaml-language-server) and `dockstack schema`, generated from the zod
 * schemas: never a hand-written twin. `io: 'input'` so fields with defaults are optional.
 */
import * as z from 'zod';
import { Manifest, ServiceManifest, SubscriptionManifest, type Kind } from './schema.ts';

const SCHEMA_IDS: Record<Kind | 'Manifest', string> = {
  Service: 'service.schema.json',
  Subscription: 'subscription.schema.json',
  Manifest: 'manifest.schema.json',
};

/** The JSON Schema (draft 2020-12) of one kind, or of any manifest when `kind` is omitted. */
export function jsonSchemaFor(kind?: Kind): Record<string, unknown> {
  const schema = kind === 'Service' ? ServiceManifest : kind === 'Subscription' ? SubscriptionManifest : Manifest;
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...json, $id: SCHEMA_IDS[kind ?? 'Manifest'], title: kind ? `DockStack ${kind}` : 'DockStack manifest' };
}

/** File name → pretty JSON text (with a trailing newline) of every published schema. */
export function schemaFiles(): Map<string, string> {
  const kinds: (Kind | undefined)[] = ['Service', 'Subscription', undefined];
  return new Map(kinds.map((k) => [SCHEMA_IDS[k ?? 'Manifest'], `${JSON.stringify(jsonSchemaFor(k), null, 2)}\n`]));
}
