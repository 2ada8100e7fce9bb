/**
 * The one Registry conformance suite, run against memory, ZooKeeper and etcd alike. Each backend
 * test file calls `registryConformance(name, setup)` inside its own before/after.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, ListingChange, Registry } from '../src/registry/registry.ts';
import { eventually } from './harness/eventually.ts';

export interface ConformanceBackend {
  /** A new, independent agent connected to the same registry. Closed by the suite. */
  registry(): Promise<Registry>;
  /** Write raw bytes under `path` as another (possibly hostile, non-DockStack) client would. */
  writeRaw(path: string, key: string, data: string): Promise<void>;
  /** Whether the backend accepts a 1 MB value (ZooKeeper's jute.maxbuffer does not). */
  readonly largeValues: boolean;
  teardown(): Promise<void>;
}

let seq = 0;
const uniquePath = (what: string): string => `/services/${what}-${process.pid}-${++seq}`;
const inst = (name: string, port: number, extra: Partial<Instance> = {}): Instance => ({ host: '10.0.0.1', port, name, ...extra });

/** Define the shared suite for one backend. */
export function registryConformance(name: string, setup: () => Promise<ConformanceBackend>): void {
  describe(`Registry conformance: ${name}`, () => {
    let backend: ConformanceBackend;
    let a: Registry;
    let b: Registry;
    before(async () => {
      backend = await setup();
      a = await backend.registry();
      b = await backend.registry();
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await backend?.teardown();
    });

    it('lists what was registered, with exact fields', async () => {
      const path = uniquePath('rt');
      const i = inst('web-1', 8080, { weight: 5, labels: { zone: 'a' } });
      const key = await a.register(path, i);
      assert.ok(key.startsWith(`${path}/web-1`), key);
      const listing = await eventually(async () => {
        const l = await b.list(path);
        assert.equal(l.instances.length, 1);
        return l;
      });
      assert.deepEqual(listing.instances, [{ host: '10.0.0.1', port: 8080, name: 'web-1', weight: 5, labels: { zone: 'a' } }]);
      assert.deepEqual(listing.rejected, []);
    });

    it('re-registering the same data is a no-op; new data updates in place', async () => {
      const path = uniquePath('idem');
      const k1 = await a.register(path, inst('web-1', 8080));
      const k2 = await a.register(path, inst('web-1', 8080));
      assert.equal(k2, k1);
      const k3 = await a.register(path, inst('web-1', 8080, { weight: 9 }));
      assert.equal(k3, k1);
      await eventually(async () => {
        const l = await b.list(path);
        assert.deepEqual(l.instances, [{ host: '10.0.0.1', port: 8080, name: 'web-1', weight: 9 }]);
      });
      await a.register(path, inst('web-1', 8081));
      await eventually(async () => assert.deepEqual((await b.list(path)).instances.map((x) => x.port), [8081]));
    });

    it('deregister removes the entry and is a no-op when absent', async () => {
      const path = uniquePath('dereg');
      await a.register(path, inst('web-1', 8080));
      await a.deregister(path, 'web-1');
      await eventually(async () => assert.deepEqual((await b.list(path)).instances, []));
      await a.deregister(path, 'web-1');
      await a.deregister(path, 'never-registered');
    });

    it('lists two agents on one path, sorted by address', async () => {
      const path = uniquePath('two');
      await b.register(path, { host: '10.0.0.2', port: 80, name: 'b-1' });
      await a.register(path, { host: '10.0.0.1', port: 80, name: 'a-1' });
      await eventually(async () => {
        const l = await a.list(path);
        assert.deepEqual(l.instances.map((x) => x.name), ['a-1', 'b-1']);
      });
    });

    it('a missing path lists empty', async () => {
      assert.deepEqual(await a.list(uniquePath('missing')), { instances: [], rejected: [] });
    });

    it("watch fires on another client's add, change and remove", async () => {
      const path = uniquePath('watch');
      let calls = 0;
      const unwatch = a.watch(path, () => calls++);
      try {
        const expectFire = async (action: () => Promise<unknown>, check: (ports: number[]) => void): Promise<void> => {
          const before = calls;
          await action();
          await eventually(async () => {
            assert.ok(calls > before, 'watch callback not called');
            check((await a.list(path)).instances.map((x) => x.port));
          });
        };
        await expectFire(() => b.register(path, inst('w-1', 9000)), (p) => assert.deepEqual(p, [9000]));
        await expectFire(() => b.register(path, inst('w-1', 9001)), (p) => assert.deepEqual(p, [9001]));
        await expectFire(() => b.register(path, inst('w-2', 9002)), (p) => assert.deepEqual(p, [9001, 9002]));
        await expectFire(() => b.deregister(path, 'w-1'), (p) => assert.deepEqual(p, [9002]));
      } finally {
        unwatch();
      }
    });

    it('watch delivers what changed: a reset listing first, then per-address deltas', async () => {
      const path = uniquePath('delta');
      await b.register(path, inst('d-1', 9100));
      const changes: ListingChange[] = [];
      const unwatch = a.watch(path, (c) => changes.push(c));
      try {
        const first = await eventually(async () => {
          const c = changes.find((x) => x.reset && x.current.size === 1);
          assert.ok(c, `no reset delivery with the listing: ${changes.length} deliveries`);
          return c;
        });
        assert.deepEqual(first.listing().instances.map((x) => x.port), [9100]);
        const addrs = (xs: readonly Instance[]): number[] => xs.map((x) => x.port).sort();
        const after = async (action: () => Promise<unknown>, want: { added?: number[]; removed?: number[]; updated?: number[] }): Promise<void> => {
          const from = changes.length;
          await action();
          await eventually(async () => {
            const got = changes.slice(from).filter((c) => !c.reset);
            assert.ok(got.length > 0, 'no delta delivered');
            assert.deepEqual(
              { added: got.flatMap((c) => addrs(c.added)), removed: got.flatMap((c) => addrs(c.removed)), updated: got.flatMap((c) => addrs(c.updated)) },
              { added: [], removed: [], updated: [], ...want },
            );
          });
        };
        await after(() => b.register(path, inst('d-2', 9101)), { added: [9101] });
        await after(() => b.register(path, inst('d-2', 9101, { weight: 7 })), { updated: [9101] });
        await after(() => b.deregister(path, 'd-1'), { removed: [9100] });
        const last = changes[changes.length - 1]!;
        assert.deepEqual([...last.current.keys()], ['10.0.0.1:9101']);
        assert.deepEqual(last.listing().instances, [{ host: '10.0.0.1', port: 9101, name: 'd-2', weight: 7 }]);
        assert.deepEqual(last.listing(), await a.list(path));
      } finally {
        unwatch();
      }
    });

    it('rejects hostile data with a reason while valid siblings still list', async () => {
      const path = uniquePath('hostile');
      await a.register(path, inst('good', 8080));
      const hostile: Array<[string, string]> = [
        ['notjson', 'not json {'],
        ['newline', JSON.stringify({ host: 'a\nserver evil 1.2.3.4:80', port: 80 })],
        ['space', JSON.stringify({ host: 'a b', port: 80 })],
        ['hash', JSON.stringify({ host: 'a#b', port: 80 })],
        ['port0', JSON.stringify({ host: '10.0.0.9', port: 0 })],
        ['port70000', JSON.stringify({ host: '10.0.0.9', port: 70000 })],
        ['portabc', JSON.stringify({ host: '10.0.0.9', port: 'abc' })],
      ];
      if (backend.largeValues) hostile.push(['huge', JSON.stringify({ host: '10.0.0.9', port: 80, pad: 'x'.repeat(1024 * 1024) })]);
      for (const [k, v] of hostile) await backend.writeRaw(path, k, v);
      const l = await eventually(async () => {
        const l = await b.list(path);
        assert.equal(l.rejected.length, hostile.length);
        return l;
      });
      assert.deepEqual(l.instances.map((x) => x.name), ['good']);
      for (const r of l.rejected) {
        assert.ok(r.reason.length > 0, `no reason for ${r.key}`);
        assert.ok(r.key.startsWith(`${path}/`), r.key);
      }
      const reasons = Object.fromEntries(l.rejected.map((r) => [r.key.slice(path.length + 1).replace(/_\d+$/, ''), r.reason]));
      assert.match(reasons.notjson ?? '', /not JSON/);
      assert.match(reasons.newline ?? '', /invalid host/);
      assert.match(reasons.port70000 ?? '', /invalid port/);
      if (backend.largeValues) assert.match(reasons.huge ?? '', /limit/);
    });

    it('close() lets the process exit and moves to "closed"', async () => {
      const r = await backend.registry();
      await r.register(uniquePath('close'), inst('c-1', 1234));
      const unwatch = r.watch(uniquePath('close-w'), () => undefined);
      unwatch();
      r.watch(uniquePath('close-w2'), () => undefined);
      await r.close();
      assert.equal(r.state(), 'closed');
      // Handles that would keep the process alive show up as a hung test file (node --test reports it).
    });
  });
}
