/** The test's manifest source is the product's TextSource: set texts, get a snapshot emitted at once. */
export { TextSource as StaticSource } from '../../src/providers/text-source.ts';

export const service = (name: string, spec: string) =>
  `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
export const subscription = (name: string, spec: string) =>
  `apiVersion: dockstack.io/v1alpha1\nkind: Subscription\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
