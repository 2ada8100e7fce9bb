import { MemoryRegistry, MemoryStore } from '../src/registry/memory-registry.ts';
import { registryConformance } from './registry-conformance.ts';

// One store, a client per simulated agent (as two agents share one ZooKeeper): the two-client
// tests then see another client's writes through the store, not their own instance's.
registryConformance('memory', async () => {
  const store = new MemoryStore();
  const seeder = new MemoryRegistry(store);
  return {
    largeValues: true,
    async registry() {
      return new MemoryRegistry(store);
    },
    async writeRaw(path, key, data) {
      seeder.seed(path, key, data);
    },
    async teardown() {
      await seeder.close();
    },
  };
});
