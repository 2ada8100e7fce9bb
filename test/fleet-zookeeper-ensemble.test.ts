/**
 * A 3-node ZooKeeper ensemble on three hosts; producers on host4 and host5, a consumer on host6.
 * The leader's host is partitioned away from every other host (a minority of one, silent DROP):
 * agents that were connected to it move to the majority, no registration is lost and no backend
 * removed; a client on host6 connects every ~50 ms throughout.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually } from './harness/eventually.ts';
import { startHostAgent, type HostAgent } from './harness/host-agent.ts';
import { createFleet, SUBNET, type Fleet, type NsHost } from './harness/netns-hosts.ts';
import { service, subscription } from './harness/static-source.ts';
import { probe } from './harness/traffic-probe.ts';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from './harness/zookeeper-ensemble.ts';

const SESSION_MS = 4000;
const LISTEN = 14000;
const PORT = 21000;

describe('fleet: ZooKeeper ensemble across hosts, the leader\'s host partitioned', { timeout: 180_000 }, () => {
  let fleet: Fleet;
  let hosts: NsHost[];
  let zk: ZooKeeperEnsemble;
  const agents: HostAgent[] = [];

  before(async () => {
    fleet = await createFleet(6);
    hosts = [...fleet.hosts];
    const [h1, h2, h3, h4, h5, h6] = hosts as [NsHost, NsHost, NsHost, NsHost, NsHost, NsHost];
    zk = await startZooKeeperEnsemble({ on: [h1, h2, h3] });
    const registry = `zk://${zk.connectString}`;
    const args = ['--session-timeout', String(SESSION_MS), '--resync', '1000'];
    for (const [h, name] of [[h4, 'a'], [h5, 'b']] as const) {
      await h.greet(name, PORT);
      // host5 names its interface: its registered address follows eth0's.
      agents.push(await startHostAgent(h, { dir: join(fleet.dir, name), registry, args: h === h5 ? [...args, '--host', 'eth0'] : args, manifests: { 's.yaml': service('echo', `path: /services/echo\nport: ${PORT}\nchecks:\n  - { type: tcp, intervalMs: 300, rise: 1, fall: 1 }`) } }));
    }
    agents.push(await startHostAgent(h6, { dir: join(fleet.dir, 'c'), registry, args, manifests: { 'sub.yaml': subscription('echo', `service: /services/echo\nlisten: { address: 127.0.0.1, port: ${LISTEN} }\ncheck: { type: tcp, interMs: 300, rise: 1, fall: 1 }`) } }));
  });

  after(async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    await zk?.stop();
    await fleet?.close();
  });

  test('0 failed connections, no registration lost, no backend removed; agents on the leader move to the majority', async (t) => {
    const consumer = agents[2]!;
    const backends = async () => ((await consumer.view('subscriptions', 'echo'))?.status.details.backends as string[] | undefined) ?? [];
    const both = [`${SUBNET}.4:${PORT}`, `${SUBNET}.5:${PORT}`];
    await eventually(async () => assert.deepEqual(await backends(), both), { timeoutMs: 60_000, message: `both registered (${consumer.log().slice(-1500)})` });
    const client = probe(() => hosts[5]!.greeting(LISTEN, '127.0.0.1'), { intervalMs: 50 });
    const leader = await zk.leader();
    assert.ok(leader !== undefined, 'leader !== undefined');
    const lh = hosts[leader]!;
    const allWork = async (): Promise<void> => {
      for (const a of agents) assert.equal((await a.view(a === consumer ? 'subscriptions' : 'services', 'echo'))?.status.conditions.find((c) => c.type === (a === consumer ? 'Synced' : 'Registered'))?.status, 'True', a.host.name);
    };
    const drops = (): number[] => agents.map((a) => (a.log().match(/"registryEvent":"connection-dropped"/g) ?? []).length);
    // Clients pick servers at random: steer host4's agent onto the leader, so the partition always
    // cuts an agent off silently. Cut from the other two servers, any connection through them is
    // dropped within 2/3 of the session timeout and the leader is the only one left to answer.
    const steered = agents[0]!;
    await steered.host.cut(hosts.slice(0, 3).filter((h) => h !== lh));
    try {
      const s0 = Date.now();
      await eventually(async () => {
        assert.equal(await steered.registryState(), 'connected');
        assert.ok(Date.now() - s0 > SESSION_MS, 'a connection through a cut server has been dropped by now');
      }, { timeoutMs: 30_000, intervalMs: 200, message: `host4 connected through the leader (${steered.log().slice(-1500)})` });
    } finally {
      await steered.host.heal();
    }
    await eventually(async () => {
      await allWork();
      assert.deepEqual(await backends(), both);
    }, { timeoutMs: 30_000, message: 'every agent works before the partition' });
    const dropsBefore = drops();
    await lh.cut(hosts.filter((h) => h !== lh));
    const t0 = Date.now();
    let removed = 0;
    let newLeader: number;
    try {
      // Past the session timeout twice over: a session left on the minority would have expired by now.
      while (Date.now() - t0 < SESSION_MS * 3) {
        if ((await backends()).length !== 2) removed++;
        await new Promise((r) => setTimeout(r, 200));
      }
      newLeader = await eventually(async () => {
        const l = await zk.leader();
        assert.ok(l !== undefined && l !== leader, `a new leader among the majority (now ${l})`);
        return l;
      }, { timeoutMs: 20_000 });
      // An agent whose server was the leader sees a silent cut: it moves once its client notices.
      await eventually(allWork, { timeoutMs: 20_000, message: 'every agent works through the majority' });
    } finally {
      await lh.heal();
    }
    await eventually(allWork, { timeoutMs: 30_000, message: 'every agent works after the heal' });
    const result = await client.stop();
    const moved = drops().map((n, i) => (n > dropsBefore[i]! ? agents[i]!.host.name : undefined)).filter(Boolean);
    assert.ok(moved.includes(steered.host.name), `host4's agent, on the leader, dropped its silent connection (moved: ${moved.join(', ')})`);
    t.diagnostic(`leader was node ${leader + 1} (host${leader + 1}), now node ${newLeader + 1}; agents that dropped a silent connection and moved: ${moved.join(', ') || 'none'}; polls with a backend missing: ${removed}; connections: ${result.ok} ok, ${result.failed} failed`);
    assert.equal(removed, 0, 'no backend removed');
    await eventually(async () => assert.deepEqual(await backends(), both), { timeoutMs: 30_000, message: 'every registration back after the heal' });
    assert.equal(result.failed, 0, result.errors.join('\n'));
  });

  test('--host eth0 follows the interface: a new first address is registered instead of the old', async (t) => {
    const [, , , , h5] = hosts as [NsHost, NsHost, NsHost, NsHost, NsHost];
    const consumer = agents[2]!;
    const backends = async () => ((await consumer.view('subscriptions', 'echo'))?.status.details.backends as string[] | undefined) ?? [];
    const moved = `${SUBNET}.55`;
    const t0 = Date.now();
    // .55 becomes eth0's first IPv4; .5 comes back as a secondary so open connections survive.
    for (const args of [['del', `${h5.addr}/24`], ['add', `${moved}/24`], ['add', `${h5.addr}/24`]]) {
      const r = await h5.exec('ip', ['addr', args[0]!, args[1]!, 'dev', 'eth0']);
      assert.equal(r.code, 0, r.stderr);
    }
    await h5.greet('b2', PORT, moved);
    await eventually(async () => assert.deepEqual(await backends(), [`${SUBNET}.4:${PORT}`, `${moved}:${PORT}`]), { timeoutMs: 30_000, message: `host5 re-registered under its new address (${agents[1]!.log().slice(-1500)})` });
    const view = await agents[1]!.view('services', 'echo');
    t.diagnostic(`re-registered as ${String(view?.status.details.instanceId)} ${Date.now() - t0} ms after the address changed`);
    assert.equal(view?.status.details.host, moved);
  });
});
