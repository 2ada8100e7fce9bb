/**
 * Building manifest documents from flags and labels, and rendering them as the YAML a user would
 * write. Generated manifests take the same path as files (text → parseManifestText), so what
 * `--print` shows is exactly what runs.
 */
import type { z } from 'zod';
import YAML from 'yaml';
import { API_VERSION, type ServiceManifest, type SubscriptionManifest } from '../manifest/schema.ts';

/** What a user writes for a Service / Subscription: defaults may be omitted. */
export type ServiceInput = z.input<typeof ServiceManifest>;
export type SubscriptionInput = z.input<typeof SubscriptionManifest>;

export type CheckInput = NonNullable<ServiceInput['spec']['checks']>[number];

export function serviceDoc(name: string, spec: ServiceInput['spec']): ServiceInput {
  return { apiVersion: API_VERSION, kind: 'Service', metadata: { name }, spec };
}

export function subscriptionDoc(name: string, spec: SubscriptionInput['spec']): SubscriptionInput {
  return { apiVersion: API_VERSION, kind: 'Subscription', metadata: { name }, spec };
}

/** Multi-document YAML, `---` between documents, keys in insertion order. */
export function manifestsYaml(docs: readonly object[]): string {
  return docs.map((d) => YAML.stringify(d, { lineWidth: 0 })).join('---\n');
}
