import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { registryConformance } from './registry-conformance.ts';

// One shared in-process store: every "agent" is the same MemoryRegistry.
registryConformance('memory', async () => {
  const shared = new MemoryRegistry();
  return {
    largeValues: true,
    async registry() {
      return shared;
    },
    async writeRaw(path, key, data) {
      shared.seed(path, key, data);
    },
    async teardown() {},
  };
});
