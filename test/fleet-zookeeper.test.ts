/**
 * The seed's MySQL scenario across hosts (network namespaces on one switch): MariaDB on host1 and
 * host3 registered by their own agents, a consumer on host2 reaching them through its agent's
 * HAProxy (mysql-check as haproxy_check), ZooKeeper on host4. A client on host2 queries every
 * ~50 ms for the whole file; each fault reports its failed-query count.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually } from './harness/eventually.ts';
import { startHostAgent, type HostAgent } from './harness/host-agent.ts';
import { startMariaDB, type MariaDBServer } from './harness/mariadb.ts';
import { createFleet, SUBNET, type Fleet, type NsHost } from './harness/netns-hosts.ts';
import { mysqlService, mysqlSubscription, queryFrom } from './harness/fleet-mysql.ts';
import { service } from './harness/static-source.ts';
import { probe, type TrafficProbe } from './harness/traffic-probe.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

const SESSION_MS = 4000;
const LISTEN = 13306;
const DB_PORT = 20000;
const A = `${SUBNET}.1:${DB_PORT}`;
const B = `${SUBNET}.3:${DB_PORT}`;

describe('fleet: MySQL across hosts over ZooKeeper', { timeout: 240_000 }, () => {
  let fleet: Fleet;
  let h1: NsHost, h2: NsHost, h3: NsHost, h4: NsHost;
  let zk: ZooKeeperServer;
  let dbA: MariaDBServer, dbB: MariaDBServer;
  let producerA: HostAgent, producerB: HostAgent, consumer: HostAgent;
  let traffic: TrafficProbe;
  const failedBefore = { n: 0 };
  /** Failed queries since the last call (the probe runs for the whole file). */
  const failedSince = (): number => {
    const n = traffic.counts().failed - failedBefore.n;
    failedBefore.n += n;
    return n;
  };
  const backends = async (): Promise<string[]> => ((await consumer.view('subscriptions', 'mysql'))?.status.details.backends as string[] | undefined) ?? [];
  const producerManifest = mysqlService(DB_PORT);

  before(async () => {
    fleet = await createFleet(4);
    [h1, h2, h3, h4] = fleet.hosts as [NsHost, NsHost, NsHost, NsHost];
    zk = await startZooKeeper({ on: h4 });
    [dbA, dbB] = await Promise.all([startMariaDB({ on: h1, port: DB_PORT }), startMariaDB({ on: h3, port: DB_PORT })]);
    const registry = `zk://${zk.connectString}`;
    const common = ['--session-timeout', String(SESSION_MS), '--resync', '1000'];
    // host1 without --host: it must register its own address (the route to ZooKeeper), not 127.0.0.1.
    producerA = await startHostAgent(h1, { dir: join(fleet.dir, 'a'), registry, manifests: { 'mysql.yaml': producerManifest }, args: common });
    producerB = await startHostAgent(h3, { dir: join(fleet.dir, 'b'), registry, manifests: { 'mysql.yaml': producerManifest }, args: [...common, '--host', 'eth0'] });
    consumer = await startHostAgent(h2, {
      dir: join(fleet.dir, 'c'), registry, args: common,
      manifests: { 'sub.yaml': mysqlSubscription(LISTEN) },
    });
  });

  after(async () => {
    await traffic?.stop();
    // fleet.close() SIGKILLs whatever still runs in the namespaces (agents, HAProxy, servers).
    await Promise.allSettled([producerA?.stop(), producerB?.stop(), consumer?.stop()]);
    await Promise.allSettled([dbA?.stop(), dbB?.stop(), zk?.stop()]);
    await fleet?.close();
  });

  test('queries from host2 reach MariaDB on host1 and host3; each registered its own host address', async (t) => {
    await eventually(async () => assert.deepEqual(await backends(), [A, B]), { timeoutMs: 60_000, message: `consumer routes to both (${consumer.log().slice(-2000)})` });
    const seen = new Set<string>();
    await eventually(async () => {
      seen.add(await queryFrom(h2, LISTEN));
      assert.deepEqual([...seen].sort(), [`${SUBNET}.1`, `${SUBNET}.3`]);
    }, { timeoutMs: 30_000, message: 'queries reach both servers' });
    traffic = probe(() => queryFrom(h2, LISTEN), { intervalMs: 50 });
    const view = await producerA.view('services', 'mysql');
    assert.equal(view?.status.details.host, `${SUBNET}.1`, 'no --host: the address of the route to ZooKeeper');
    assert.match(producerA.log(), new RegExp(`"host":"${SUBNET.replace(/\./g, '\\.')}\\.1 \\(route to registry`), 'the start log line names the address');
    const wide = await producerA.cli(['get', 'services', '-o', 'wide']);
    assert.match(wide.stdout, new RegExp(`mysql .*${A.replace(/\./g, '\\.')}`), wide.stdout + wide.stderr);
    const described = await producerA.cli(['describe', 'service', 'mysql']);
    assert.match(described.stdout, new RegExp(`host:? +${SUBNET.replace(/\./g, '\\.')}\\.1\\b`), described.stdout + described.stderr);
    assert.equal((await producerB.view('services', 'mysql'))?.status.details.host, `${SUBNET}.3`, '--host eth0: its first IPv4');
    t.diagnostic(`get services -o wide on host1:\n${wide.stdout}`);
  });

  test('a loopback address is not registered into a remote registry unless spec.host says so', async () => {
    const lo = await startHostAgent(h1, {
      dir: join(fleet.dir, 'lo'), registry: `zk://${zk.connectString}`, statusPort: 7071, args: ['--proxy', 'none', '--host', '127.0.0.1', '--resync', '300', '--log-level', 'debug'],
      manifests: {
        'lo.yaml': service('lo', 'path: /services/lo\nport: 20100'),
        'explicit.yaml': service('explicit', 'path: /services/lo\nport: 20101\nhost: 127.0.0.1'),
      },
    });
    try {
      await eventually(async () => {
        const c = (await lo.view('services', 'lo'))?.status.conditions.find((x) => x.type === 'Registered');
        assert.equal(c?.reason, 'LoopbackAddress');
        assert.match(c?.message ?? '', /--host/);
      }, { timeoutMs: 20_000, message: `LoopbackAddress (${lo.log().slice(-1500)})` });
      await eventually(async () => assert.equal((await lo.view('services', 'explicit'))?.status.conditions.find((x) => x.type === 'Registered')?.status, 'True'), { timeoutMs: 20_000 });
      // Several resyncs later (each a logged reconcile at debug level), still one warning.
      const reconciles = () => (lo.log().match(/"object":"service\/lo"[^\n]*"msg":"reconciled"/g) ?? []).length;
      const seen = reconciles();
      await eventually(() => assert.ok(reconciles() >= seen + 3, 'reconciles() >= seen + 3'), { timeoutMs: 20_000, message: 'three more resyncs of service/lo' });
      assert.equal((lo.log().match(/"msg":"not registering loopback/g) ?? []).length, 1, 'logged once, not every resync');
    } finally {
      await lo.stop();
    }
  });

  test('host1 cut from ZooKeeper by a silent DROP past its session timeout: noticed within it, out of rotation, 0 failed queries; healed: re-registered once within seconds', async (t) => {
    failedSince();
    assert.equal(await producerA.registryState(), 'connected');
    const t0 = Date.now();
    await h1.cut([h4]);
    let noticed: number | undefined;
    let out: number | undefined;
    try {
      await eventually(async () => {
        if (noticed === undefined && (await producerA.registryState()) !== 'connected') noticed = Date.now() - t0;
        if (out === undefined && (await backends()).join() === B) out = Date.now() - t0;
        assert.ok(noticed !== undefined, `the cut-off agent still says connected after ${Date.now() - t0} ms`);
        assert.ok(out !== undefined, 'host1 still routed');
      }, { timeoutMs: SESSION_MS * 4, intervalMs: 50, message: 'host1 notices the cut and its registration expires' });
    } finally {
      await h1.heal();
    }
    const healed = Date.now();
    await eventually(async () => assert.deepEqual(await backends(), [A, B]), { timeoutMs: 30_000, message: `host1 re-registered (${producerA.log().slice(-1500)})` });
    const back = Date.now() - healed;
    const ls = await h4.exec('/usr/share/zookeeper/bin/zkCli.sh', ['-server', zk.connectString, 'ls', '/services/mysql']);
    const nodes = /\[(.*)\]/.exec(ls.stdout.split('\n').reverse().find((l) => l.startsWith('[')) ?? '')?.[1]?.split(', ') ?? [];
    assert.equal(nodes.filter((n) => n.includes(`${SUBNET}.1`)).length, 1, `host1 registered exactly once: ${nodes.join(', ')}`);
    const failed = failedSince();
    t.diagnostic(`cut: host1 reported the registry disconnected after ${noticed} ms (session timeout ${SESSION_MS} ms); out of rotation after ${out} ms; healed: routed again ${back} ms later; failed queries: ${failed}`);
    assert.ok(noticed! < SESSION_MS, `noticed after ${noticed} ms`);
    assert.ok(back < 10_000, `re-registered ${back} ms after the heal`);
    assert.equal(failed, 0, JSON.stringify(traffic.counts().errors.slice(-3)));
  });

  test('host2 (the consumer) cut from ZooKeeper: fail static; a backend dying while cut is taken out by HAProxy\'s check', async (t) => {
    failedSince();
    await h2.cut([h4]);
    await eventually(async () => assert.equal((await consumer.view('subscriptions', 'mysql'))?.status.conditions.find((c) => c.type === 'Synced')?.status, 'False'),
      { timeoutMs: SESSION_MS * 4, message: 'the consumer notices it is cut off' });
    assert.deepEqual(await backends(), [A, B], 'fail static: both backends stay');
    const failedWhileCut = failedSince();
    await dbB.stop();
    await eventually(async () => {
      const answers = new Set<string>();
      for (let i = 0; i < 6; i++) answers.add(await queryFrom(h2, LISTEN));
      assert.deepEqual([...answers], [`${SUBNET}.1`]);
    }, { timeoutMs: 20_000, message: 'HAProxy took the dead backend out' });
    const failedOnDeath = failedSince();
    await h2.heal();
    await eventually(async () => assert.deepEqual(await backends(), [A]), { timeoutMs: 30_000, message: 're-synced after the heal' });
    t.diagnostic(`failed queries: ${failedWhileCut} while cut, ${failedOnDeath} as host3's MariaDB died under the cut`);
    assert.equal(failedWhileCut, 0);
    assert.ok(failedOnDeath <= 2, `failed ${failedOnDeath}: ${JSON.stringify(traffic.counts().errors.slice(-3))}`);
    dbB = await startMariaDB({ on: h3, port: DB_PORT });
    await eventually(async () => assert.deepEqual(await backends(), [A, B]), { timeoutMs: 30_000, message: 'host3 back in rotation' });
  });

  // The last round: an adopted HAProxy and no state file (lost, or never written): what HAProxy serves is the fail-static set.
  test('consumer agent restarted while cut off from ZooKeeper (SIGKILL, SIGTERM, reboot; SIGKILL with no state file): the last known backends are served', async (t) => {
    // The state file is written at most once a second: before the first SIGKILL, wait until it
    // holds host3's backend, back in rotation a moment ago (else the SIGKILL round serves [A]).
    const stateFile = join(consumer.dir, 'state', 'haproxy', 'last-known-backends.json');
    await eventually(async () => {
      const state = JSON.parse(await readFile(stateFile, 'utf8')) as { subscriptions: Record<string, { servers: { host: string; port: number }[] }> };
      const saved = Object.values(state.subscriptions).flatMap((s) => s.servers.map((x) => `${x.host}:${x.port}`)).sort();
      assert.deepEqual(saved, [A, B]);
    }, { timeoutMs: 10_000, message: 'the state file holds both backends' });
    await h2.cut([h4]);
    const subscriptionView = () => consumer.view('subscriptions', 'mysql');
    for (const how of ['SIGKILL', 'SIGTERM', 'reboot', 'SIGKILL, no state file'] as const) {
      failedSince();
      if (how === 'SIGTERM') await consumer.stop();
      else await consumer.kill();
      if (how === 'reboot') {
        // A reboot leaves no process: HAProxy goes too (killed by its pid file, never by name).
        const pid = Number(await readFile(join(consumer.dir, 'state', 'haproxy', 'haproxy.pid'), 'utf8'));
        process.kill(pid, 'SIGKILL');
      }
      const source = how === 'SIGKILL, no state file' ? 'adopted' : 'state-file';
      if (source === 'adopted') await rm(stateFile);
      await consumer.restart();
      const t0 = Date.now();
      const v = await eventually(async () => {
        const view = await subscriptionView();
        assert.ok(view?.status.details.source !== undefined, 'applied');
        return view!;
      }, { timeoutMs: 20_000, message: `${how}: first apply` });
      const firstApplyMs = Date.now() - t0;
      assert.equal(v.status.details.source, source, `${how}: the first apply came from the ${source} set (${consumer.log().slice(-1500)})`);
      assert.equal(v.status.conditions.find((c) => c.type === 'Ready')?.reason, 'FailStatic');
      assert.deepEqual(v.status.details.backends, [A, B]);
      assert.ok(firstApplyMs < 5000, `${how}: applied ${firstApplyMs} ms after the status API came up: it did not wait for a registry read to time out`);
      const seen = new Set<string>();
      await eventually(async () => {
        seen.add(await queryFrom(h2, LISTEN));
        assert.deepEqual([...seen].sort(), [`${SUBNET}.1`, `${SUBNET}.3`]);
      }, { timeoutMs: 20_000, message: `${how}: queries reach both` });
      const failed = failedSince();
      t.diagnostic(`${how}: ${source} set applied ${firstApplyMs} ms after the new agent's status API answered (lastSeen ${String(v.status.details.lastSeen)}); failed queries across the restart: ${failed}`);
      // SIGKILL leaves HAProxy serving; SIGTERM and a reboot stop it until the new agent starts one.
      if (how !== 'SIGTERM' && how !== 'reboot') assert.equal(failed, 0, JSON.stringify(traffic.counts().errors.slice(-3)));
      if (how === 'reboot') {
        const d = await consumer.cli(['describe', 'subscription', 'mysql']);
        assert.match(d.stdout, /source:? +state-file/, d.stdout + d.stderr);
        assert.match(d.stdout, /FailStatic/);
      }
    }
    await h2.heal();
    await eventually(async () => assert.equal((await subscriptionView())?.status.details.source, 'registry'), { timeoutMs: 30_000, message: 'the registry wins once it answers' });
  });

  test('host death: every process of host3 SIGKILLed at once: out of rotation within the session timeout', async (t) => {
    failedSince();
    const t0 = Date.now();
    await h3.killAll();
    await eventually(async () => assert.deepEqual(await backends(), [A]), { timeoutMs: SESSION_MS * 3, message: 'host3 out of the registry' });
    const out = Date.now() - t0;
    const failed = failedSince();
    const result = await traffic.stop();
    t.diagnostic(`host3 out of the registry ${out} ms after its death; failed queries ${failed}; whole file: ${result.ok} ok, ${result.failed} failed`);
    assert.ok(out < SESSION_MS * 2, `took ${out} ms`);
    assert.ok(failed <= 2, `failed ${failed} (at most those in flight): ${result.errors.join('\n')}`);
  });
});
