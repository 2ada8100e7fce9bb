/**
 * The seed's MySQL scenario across hosts once with etcd: a 3-member etcd cluster on host1..host3,
 * MariaDB on host4 and host5 registered by their own agents, a consumer on host6 (HAProxy
 * mysql-check as haproxy_check). A producer's host is cut from every member (silent DROP) past its
 * lease; then the etcd leader's host is partitioned away: no registration lost, no backend removed.
 * A client on host6 queries every ~50 ms throughout.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEtcdCluster, type EtcdCluster } from './harness/etcd-cluster.ts';
import { eventually } from './harness/eventually.ts';
import { startHostAgent, type HostAgent } from './harness/host-agent.ts';
import { startMariaDB, type MariaDBServer } from './harness/mariadb.ts';
import { createFleet, SUBNET, type Fleet, type NsHost } from './harness/netns-hosts.ts';
import { mysqlService, mysqlSubscription, queryFrom } from './harness/fleet-mysql.ts';
import { probe, type TrafficProbe } from './harness/traffic-probe.ts';

const LEASE_S = 4;
const LISTEN = 13306;
const DB_PORT = 20000;

describe('fleet: MySQL across hosts over a 3-member etcd cluster', { timeout: 180_000 }, () => {
  let fleet: Fleet;
  let hosts: NsHost[];
  let etcd: EtcdCluster;
  let dbs: MariaDBServer[] = [];
  const agents: HostAgent[] = [];
  let traffic: TrafficProbe;
  const both = [`${SUBNET}.4:${DB_PORT}`, `${SUBNET}.5:${DB_PORT}`];
  const backends = async () => ((await agents[2]!.view('subscriptions', 'mysql'))?.status.details.backends as string[] | undefined) ?? [];

  before(async () => {
    fleet = await createFleet(6);
    hosts = [...fleet.hosts];
    const [h1, h2, h3, h4, h5, h6] = hosts as [NsHost, NsHost, NsHost, NsHost, NsHost, NsHost];
    etcd = await startEtcdCluster({ on: [h1, h2, h3] });
    dbs = await Promise.all([startMariaDB({ on: h4, port: DB_PORT }), startMariaDB({ on: h5, port: DB_PORT })]);
    const registry = `etcd://${etcd.endpoints.join(',')}`;
    const args = ['--lease-ttl', String(LEASE_S), '--resync', '1000'];
    const svc = mysqlService(DB_PORT);
    agents.push(await startHostAgent(h4, { dir: join(fleet.dir, 'a'), registry, args, manifests: { 'mysql.yaml': svc } }));
    agents.push(await startHostAgent(h5, { dir: join(fleet.dir, 'b'), registry, args, manifests: { 'mysql.yaml': svc } }));
    agents.push(await startHostAgent(h6, {
      dir: join(fleet.dir, 'c'), registry, args,
      manifests: { 'sub.yaml': mysqlSubscription(LISTEN) },
    }));
  });

  after(async () => {
    await traffic?.stop();
    await Promise.allSettled(agents.map((a) => a.stop()));
    await Promise.allSettled([...dbs.map((d) => d.stop()), etcd?.stop()]);
    await fleet?.close();
  });

  test('queries from host6 reach MariaDB on host4 and host5, each registered with its own address', async () => {
    await eventually(async () => assert.deepEqual(await backends(), both), { timeoutMs: 60_000, message: `consumer routes to both (${agents[2]!.log().slice(-1500)})` });
    const seen = new Set<string>();
    await eventually(async () => {
      seen.add(await queryFrom(hosts[5]!, LISTEN));
      assert.deepEqual([...seen].sort(), [`${SUBNET}.4`, `${SUBNET}.5`]);
    }, { timeoutMs: 30_000, message: 'queries reach both servers' });
    traffic = probe(() => queryFrom(hosts[5]!, LISTEN), { intervalMs: 50 });
  });

  test('host4 cut from every etcd member by a silent DROP past its lease: noticed within the TTL, out of rotation, 0 failed queries; healed: registered again within seconds', async (t) => {
    const producer = agents[0]!;
    const failedBefore = traffic.counts().failed;
    assert.equal(await producer.registryState(), 'connected');
    const t0 = Date.now();
    await hosts[3]!.cut(hosts.slice(0, 3));
    let noticed: number | undefined;
    let out: number | undefined;
    try {
      await eventually(async () => {
        if (noticed === undefined && (await producer.registryState()) !== 'connected') noticed = Date.now() - t0;
        if (out === undefined && (await backends()).join() === both[1]) out = Date.now() - t0;
        assert.ok(noticed !== undefined, `the cut-off agent still says connected after ${Date.now() - t0} ms`);
        assert.ok(out !== undefined, 'host4 still routed');
      }, { timeoutMs: LEASE_S * 1000 * 4, intervalMs: 50, message: 'host4 notices the cut and its lease expires' });
    } finally {
      await hosts[3]!.heal();
    }
    const healed = Date.now();
    await eventually(async () => assert.deepEqual(await backends(), both), { timeoutMs: 30_000, message: `host4 registered again (${producer.log().slice(-1500)})` });
    const back = Date.now() - healed;
    const failed = traffic.counts().failed - failedBefore;
    t.diagnostic(`cut: host4 reported the registry disconnected after ${noticed} ms (lease TTL ${LEASE_S} s); out of rotation after ${out} ms; healed: routed again ${back} ms later; failed queries: ${failed}`);
    assert.ok(noticed! < LEASE_S * 1000, `noticed after ${noticed} ms`);
    assert.ok(back < 10_000, `registered again ${back} ms after the heal`);
    assert.equal(failed, 0, JSON.stringify(traffic.counts().errors.slice(-3)));
  });

  test('the etcd leader\'s host partitioned away: no registration lost, no backend removed, 0 failed queries', async (t) => {
    const leader = await etcd.leader();
    assert.ok(leader !== undefined, 'leader !== undefined');
    const lh = hosts[leader]!;
    const drops = (): number[] => agents.map((a) => (a.log().match(/"registryEvent":"connection-dropped"/g) ?? []).length);
    // The lease's keepalive stream goes to a member picked at random: steer host4's onto the leader,
    // so the partition always cuts a lease off silently. Cut from the other two members, a stream
    // through them is cancelled within 2/3 of the TTL; a whole TTL with none cancelled means the
    // keepalives go through the leader.
    const steered = agents[0]!;
    await steered.host.cut(hosts.slice(0, 3).filter((h) => h !== lh));
    try {
      let seen = drops()[0]!;
      let since = Date.now();
      await eventually(() => {
        const n = drops()[0]!;
        if (n !== seen) [seen, since] = [n, Date.now()];
        assert.ok(Date.now() - since > LEASE_S * 1000, 'a lease TTL with no stream of host4 cancelled');
      }, { timeoutMs: 40_000, intervalMs: 100, message: `host4's keepalives through the leader (${steered.log().slice(-1500)})` });
    } finally {
      await steered.host.heal();
    }
    await eventually(async () => {
      for (const a of agents.slice(0, 2)) assert.equal((await a.view('services', 'mysql'))?.status.conditions.find((c) => c.type === 'Registered')?.status, 'True', a.host.name);
      assert.deepEqual(await backends(), both);
    }, { timeoutMs: 30_000, message: 'every agent works before the partition' });
    const dropsBefore = drops();
    await lh.cut(hosts.filter((h) => h !== lh));
    const t0 = Date.now();
    let missing = 0;
    try {
      // Past the lease TTL twice over: a lease kept alive only through the cut-off member would be gone.
      while (Date.now() - t0 < LEASE_S * 1000 * 3) {
        if ((await backends()).length !== 2) missing++;
        await new Promise((r) => setTimeout(r, 200));
      }
      await eventually(async () => {
        for (const a of agents.slice(0, 2)) assert.equal((await a.view('services', 'mysql'))?.status.conditions.find((c) => c.type === 'Registered')?.status, 'True', a.host.name);
        assert.equal((await agents[2]!.view('subscriptions', 'mysql'))?.status.conditions.find((c) => c.type === 'Synced')?.status, 'True');
      }, { timeoutMs: 30_000, message: 'every agent works through the majority' });
    } finally {
      await lh.heal();
    }
    const result = await traffic.stop();
    const moved = drops().map((n, i) => (n > dropsBefore[i]! ? agents[i]!.host.name : undefined)).filter(Boolean);
    // Not asserted: after the steering heal a keepalive stream can be re-opened on another member
    // (seen once in a clean CI run: host5 moved, host4 did not). test/registry-etcd.test.ts cuts a
    // lease's own member silently on loopback and asserts the move; here the guarantees are below.
    t.diagnostic(`host4's agent (steered onto the leader) moved: ${moved.includes(steered.host.name)}`);
    t.diagnostic(`leader was member ${leader + 1} (host${leader + 1}); agents that dropped a silent stream and moved: ${moved.join(', ') || 'none'}; polls with a backend missing: ${missing}; queries over the file: ${result.ok} ok, ${result.failed} failed`);
    assert.equal(missing, 0, 'no backend removed');
    assert.deepEqual(await backends(), both);
    assert.equal(result.failed, 0, result.errors.join('\n'));
  });
});
