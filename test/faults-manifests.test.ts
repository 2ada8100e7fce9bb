/**
 * Manifest-directory faults: a slow writer leaving half a manifest for longer than the settle time,
 * the directory deleted and re-created, symlink loops, and thousands of files dropped at once
 * (2,000; 10,000 with DOCKSTACK_FAULTS_FULL=1) into a running agent, with bounded time and heap.
 */
import assert from 'node:assert/strict';
import { mkdir, open, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { DirectorySource } from '../src/manifest/directory-source.ts';
import { ManifestStore } from '../src/manifest/manifest-store.ts';
import type { ServiceManifest } from '../src/manifest/schema.ts';
import { startAgent } from '../src/run-agent.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { service } from './harness/static-source.ts';

const MANY = process.env.DOCKSTACK_FAULTS_FULL === '1' ? 10_000 : 2_000;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Heap in use after a full collection: what is retained, not garbage awaiting collection. */
const retainedHeap = (): number => {
  gc();
  return process.memoryUsage().heapUsed;
};
const svc = (name: string, port: number) => service(name, `path: /services/${name}\nport: ${port}`);

/** A DirectorySource feeding a ManifestStore; every snapshot's view of the store is recorded. */
async function watchInto(dir: string) {
  const store = new ManifestStore();
  const ports: Record<string, number | string>[] = [];
  let snapshots = 0;
  const source = new DirectorySource({ dir, debounceMs: 30, maxWaitMs: 300, rescanMs: 1000 });
  await source.start((snap) => {
    snapshots++;
    store.update(snap);
    const view: Record<string, number | string> = {};
    for (const s of store.list()) view[s.key] = (s.manifest as ServiceManifest).spec.port;
    for (const key of store.keys()) if (store.errors(key).length) view[`${key}!`] = store.errors(key)[0]!.message;
    ports.push(view);
  });
  return { source, store, ports, snapshots: () => snapshots };
}

describe('manifest directory faults', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  const sources: DirectorySource[] = [];
  before(async () => {
    tmp = await tempDir('ds-faults-manifests');
  });
  after(async () => {
    for (const s of sources) await s.close();
    await tmp?.cleanup();
  });

  test('a slow writer: half a manifest, quiet past the settle time, is never applied; the rest is', async () => {
    const dir = join(tmp.path, 'slow');
    await mkdir(dir);
    await writeFile(join(dir, 'p.yaml'), svc('p', 1000));
    const w = await watchInto(dir);
    sources.push(w.source);
    assert.deepEqual(w.ports.at(-1), { 'service/p': 1000 });
    const next = svc('p', 2000);
    const cut = next.indexOf('path:') + 2; // "spec:\n  pa": spec becomes a scalar, not a Service spec
    const fh = await open(join(dir, 'p.yaml'), 'w');
    try {
      await fh.write(next.slice(0, cut));
      await fh.sync();
      // The half is quiet for longer than maxWaitMs, so it is read and reported (located), not applied.
      const before = w.snapshots();
      await eventually(() => assert.ok(w.snapshots() > before, 'w.snapshots() > before'), { timeoutMs: 5000 });
      await eventually(() => assert.match(String(w.ports.at(-1)?.['service/p!'] ?? ''), /p\.yaml:\d+:\d+/), { timeoutMs: 5000 });
      assert.equal(w.store.get('service/p')?.manifest.kind, 'Service');
      assert.equal((w.store.get('service/p')?.manifest as ServiceManifest).spec.port, 1000, 'the last good version stays in force');
      await fh.write(next.slice(cut));
    } finally {
      await fh.close();
    }
    await eventually(() => assert.deepEqual(w.ports.at(-1), { 'service/p': 2000 }), { timeoutMs: 5000 });
    assert.ok(w.ports.every((v) => v['service/p'] === 1000 || v['service/p'] === 2000), JSON.stringify(w.ports));
  });

  test('the directory deleted and re-created: manifests go, then come back, and keep updating', async () => {
    const dir = join(tmp.path, 'recreated');
    const fill = async (port: number) => {
      await mkdir(join(dir, 'sub'), { recursive: true });
      await writeFile(join(dir, 'a.yaml'), svc('a', port));
      await writeFile(join(dir, 'sub', 'b.yaml'), svc('b', port + 1));
    };
    await fill(100);
    const w = await watchInto(dir);
    sources.push(w.source);
    assert.deepEqual(w.ports.at(-1), { 'service/a': 100, 'service/b': 101 });
    for (let round = 1; round <= 3; round++) {
      await rm(dir, { recursive: true });
      await eventually(() => assert.deepEqual(w.ports.at(-1), {}), { timeoutMs: 5000 });
      await fill(100 * round + 100);
      await eventually(() => assert.deepEqual(w.ports.at(-1), { 'service/a': 100 * round + 100, 'service/b': 100 * round + 101 }), { timeoutMs: 5000 });
    }
    await writeFile(join(dir, 'a.yaml'), svc('a', 999));
    await eventually(() => assert.equal(w.ports.at(-1)?.['service/a'], 999), { timeoutMs: 5000 });
  });

  test('symlink loops (a -> b -> a, a directory linked into itself): ignored, the others keep working', async () => {
    const dir = join(tmp.path, 'loops');
    await mkdir(join(dir, 'inner'), { recursive: true });
    await writeFile(join(dir, 'good.yaml'), svc('good', 1));
    await symlink('b.yaml', join(dir, 'a.yaml'));
    await symlink('a.yaml', join(dir, 'b.yaml'));
    await symlink('d1', join(dir, 'd2'));
    await symlink('d2', join(dir, 'd1'));
    await symlink('..', join(dir, 'inner', 'up'));
    await symlink('.', join(dir, 'self'));
    await writeFile(join(dir, 'inner', 'deep.yaml'), svc('deep', 2));
    const w = await watchInto(dir);
    sources.push(w.source);
    // Each file is seen once, under its shortest path; the loops add nothing.
    assert.deepEqual(w.ports.at(-1), { 'service/deep': 2, 'service/good': 1 });
    assert.deepEqual([...w.store.list()].map((s) => s.file.slice(dir.length + 1)).sort(), ['good.yaml', 'inner/deep.yaml']);
    await writeFile(join(dir, 'good.yaml'), svc('good', 11));
    await writeFile(join(dir, 'new.yaml'), svc('new', 3));
    await eventually(() => assert.deepEqual(w.ports.at(-1), { 'service/deep': 2, 'service/good': 11, 'service/new': 3 }), { timeoutMs: 5000 });
  });

  test(`${MANY} manifests dropped at once into a running agent: all Ready in bounded time and heap`, async (t) => {
    const dir = join(tmp.path, 'many');
    await mkdir(dir);
    const agent = await startAgent({ manifestsDir: dir, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'none', haproxyDir: join(tmp.path, 'unused') });
    try {
      const heap0 = retainedHeap();
      let peak = heap0;
      const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 50);
      const t0 = Date.now();
      try {
        for (let i = 0; i < MANY; i += 200)
          await Promise.all(Array.from({ length: Math.min(200, MANY - i) }, (_, j) => writeFile(join(dir, `s${i + j}.yaml`), svc(`s${i + j}`, 10_000 + i + j))));
        const written = Date.now() - t0;
        const ready = () => agent.agent.view('Service').filter((v) => v.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).length;
        await eventually(() => assert.equal(ready(), MANY), { timeoutMs: MANY * 15, intervalMs: 250 });
        const ms = Date.now() - t0;
        const peakMb = (peak - heap0) / 2 ** 20;
        const retainedMb = (retainedHeap() - heap0) / 2 ** 20;
        t.diagnostic(`${MANY} files written in ${written} ms, all Ready ${ms} ms after the first write; heap growth: peak ${peakMb.toFixed(0)} MB, retained ${retainedMb.toFixed(1)} MB`);
        assert.equal((await agent.registry.list('/services/s0')).instances.length, 1);
        // Generous caps: ~10 KB retained per manifest (file result, store, status, events, registry), 4x that at peak.
        assert.ok(retainedMb < 16 + MANY * 0.01, `retained heap grew ${retainedMb.toFixed(1)} MB`);
        assert.ok(peakMb < 64 + MANY * 0.04, `peak heap grew ${peakMb.toFixed(0)} MB`);
      } finally {
        clearInterval(sample);
      }
    } finally {
      await agent.stop();
    }
  });
});
