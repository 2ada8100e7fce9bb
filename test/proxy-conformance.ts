/**
 * The one Proxy conformance suite, run against every proxy backend (memory and HAProxy): the
 * contract the Subscription controller relies on, in the boundary's own words.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DockstackError } from '../src/errors.ts';
import { ListenerConflictError } from '../src/proxy/listener-conflict.ts';
import type { Endpoint, ListenerSpec, Proxy } from '../src/proxy/proxy.ts';
import { freePort } from './harness/ports.ts';

export interface ProxyUnderTest {
  readonly proxy: Proxy;
  teardown(): Promise<void>;
}

const spec = (port: number, over: Partial<ListenerSpec> = {}): ListenerSpec => ({
  listen: { host: '127.0.0.1', port },
  protocol: 'tcp',
  balance: 'round-robin',
  check: { kind: 'none' },
  timeouts: { connectMs: 1000, clientMs: 10_000, serverMs: 10_000 },
  ...over,
});
const ep = (port: number, over: Partial<Endpoint> = {}): Endpoint => ({ host: '127.0.0.1', port, ...over });
const addrs = async (p: Proxy, name: string) => (await p.status(name)).map((s) => s.address).sort();

export function proxyConformance(name: string, setup: () => Promise<ProxyUnderTest>): void {
  describe(`Proxy conformance: ${name}`, () => {
    let t: ProxyUnderTest;
    before(async () => {
      t = await setup();
    });
    after(async () => {
      await t?.teardown();
    });

    it('a new listener needs a reload with a typed reason; its endpoints are reported', async () => {
      const r = await t.proxy.apply('conf-a', spec(await freePort()), [ep(1001), ep(1002, { weight: 3 })]);
      assert.equal(r.reloaded, true);
      assert.deepEqual(r.reasons.filter((x) => x.listener === 'conf-a'), [{ cause: 'listener-added', listener: 'conf-a' }]);
      assert.deepEqual(await addrs(t.proxy, 'conf-a'), ['127.0.0.1:1001', '127.0.0.1:1002']);
      assert.equal((await t.proxy.status('conf-a')).find((s) => s.address === '127.0.0.1:1002')?.weight, 3);
    });

    it('membership, weight and maintenance changes, at any size, need no reload; only changes cost work', async () => {
      const port = await freePort();
      await t.proxy.apply('conf-b', spec(port), [ep(2001)]);
      const many = Array.from({ length: 40 }, (_, i) => ep(2001 + i));
      const grown = await t.proxy.apply('conf-b', spec(port), many);
      assert.equal(grown.reloaded, false);
      assert.equal((await t.proxy.status('conf-b')).length, 40);
      const same = await t.proxy.apply('conf-b', spec(port), many);
      assert.deepEqual([same.reloaded, same.runtimeOps], [false, 0], 'nothing changed, nothing sent');
      const maint = await t.proxy.apply('conf-b', spec(port), [ep(2001, { maintenance: true })]);
      assert.equal(maint.reloaded, false);
      assert.equal((await t.proxy.status('conf-b')).find((s) => s.address === '127.0.0.1:2001')?.state, 'maintenance');
    });

    it('update edits only the endpoints it names, with no reload and commands only for them', async () => {
      const port = await freePort();
      await t.proxy.apply('conf-u', spec(port), Array.from({ length: 20 }, (_, i) => ep(7001 + i)));
      const r = await t.proxy.update('conf-u', { set: [ep(7100), ep(7002, { weight: 4 })], removed: [ep(7001)] });
      assert.equal(r.reloaded, false);
      assert.ok(r.runtimeOps > 0, 'r.runtimeOps > 0');
      const st = await t.proxy.status('conf-u');
      const live = st.filter((s) => s.state !== 'draining').map((s) => s.address);
      assert.ok(live.includes('127.0.0.1:7100') && !live.includes('127.0.0.1:7001') && live.length === 20, live.join(','));
      assert.equal(st.find((s) => s.address === '127.0.0.1:7002')?.weight, 4);
      const none = await t.proxy.update('conf-u', { set: [ep(7100)], removed: [ep(9999)] });
      assert.deepEqual([none.reloaded, none.runtimeOps], [false, 0], 'nothing changed, nothing sent');
      await assert.rejects(t.proxy.update('conf-never', { set: [ep(1)], removed: [] }), DockstackError);
      await assert.rejects(t.proxy.update('conf-u', { set: [ep(7200, { weight: 300 })], removed: [] }), DockstackError);
      assert.ok(!(await addrs(t.proxy, 'conf-u')).includes('127.0.0.1:7200'), "!(await addrs(t.proxy, 'conf-u')).includes('127.0.0.1:7200')");
    });

    it('a listener-level change needs a reload', async () => {
      const port = await freePort();
      await t.proxy.apply('conf-c', spec(port), [ep(3001)]);
      const r = await t.proxy.apply('conf-c', spec(port, { balance: 'least-connections' }), [ep(3001)]);
      assert.equal(r.reloaded, true);
      assert.deepEqual(r.reasons.filter((x) => x.listener === 'conf-c'), [{ cause: 'listener-changed', listener: 'conf-c' }]);
    });

    it('a second listener on a taken address is refused with a conflict naming the holder; the first keeps its endpoints', async () => {
      const port = await freePort();
      await t.proxy.apply('conf-d1', spec(port), [ep(4001)]);
      const err = await t.proxy.apply('conf-d2', spec(port), [ep(4002)]).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ListenerConflictError, String(err));
      assert.equal(err.address, `127.0.0.1:${port}`);
      assert.match(err.holder, /conf-d1/);
      assert.deepEqual(await addrs(t.proxy, 'conf-d1'), ['127.0.0.1:4001']);
      await t.proxy.remove('conf-d2');
    });

    it('an endpoint value the data plane cannot take is refused, not half-applied', async () => {
      const port = await freePort();
      await t.proxy.apply('conf-e', spec(port), [ep(5001)]);
      await assert.rejects(t.proxy.apply('conf-e', spec(port), [ep(5001), ep(5002, { weight: 1.5 })]), DockstackError);
      assert.deepEqual(await addrs(t.proxy, 'conf-e'), ['127.0.0.1:5001']);
    });

    it('remove drops the listener; removing an absent one is a no-op', async () => {
      await t.proxy.apply('conf-f', spec(await freePort()), [ep(6001)]);
      await t.proxy.remove('conf-f');
      assert.deepEqual(await t.proxy.status('conf-f'), []);
      await t.proxy.remove('conf-f');
      await t.proxy.remove('never-there');
    });
  });
}
