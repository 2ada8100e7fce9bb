import assert from 'node:assert/strict';
import { mkdir, open, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DirectorySource } from '../src/manifest/directory-source.ts';
import type { FileResult } from '../src/manifest/file-result.ts';
import { eventually } from './harness/eventually.ts';
import { saveViaRename, tempDir } from './harness/fs.ts';

const svc = (name: string, port: number | string) =>
  `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  path: /services/${name}\n  port: ${port}\n`;

/** "file: key=port, ..." per file, relative to `root`, for readable assertions. */
function summary(root: string, snap: ReadonlyMap<string, FileResult> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, r] of snap ?? []) {
    const parts = r.manifests.map((m) => `${m.key}=${m.manifest.kind === 'Service' ? m.manifest.spec.port : '?'}`);
    if (r.errors.length > 0) parts.push(`errors:${r.errors.length}`);
    out[file.slice(root.length + 1)] = parts.join(',');
  }
  return out;
}

async function startSource(dir: string, root: string, opts: { rescanMs?: number } = {}) {
  const seen: Record<string, string>[] = [];
  const source = new DirectorySource({ dir, debounceMs: 30, maxWaitMs: 400, rescanMs: opts.rescanMs ?? 60_000 });
  await source.start((snap) => seen.push(summary(root, snap)));
  const expectLatest = (want: Record<string, string>) =>
    eventually(() => assert.deepEqual(seen.at(-1), want), { timeoutMs: 5000 });
  return { source, seen, expectLatest };
}

describe('DirectorySource', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  const sources: DirectorySource[] = [];
  before(async () => {
    tmp = await tempDir('dockstack-dirsrc');
  });
  after(async () => {
    for (const s of sources) await s.close();
    await tmp.cleanup();
  });

  it('emits the initial snapshot before start resolves, then add/change/delete/rename', async () => {
    const dir = join(tmp.path, 'basic');
    await mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), svc('a', 1));
    const { source, seen, expectLatest } = await startSource(dir, dir);
    sources.push(source);
    assert.deepEqual(seen, [{ 'a.yaml': 'service/a=1' }]);
    await writeFile(join(dir, 'b.yml'), svc('b', 2));
    await expectLatest({ 'a.yaml': 'service/a=1', 'b.yml': 'service/b=2' });
    await writeFile(join(dir, 'a.yaml'), svc('a', 11));
    await expectLatest({ 'a.yaml': 'service/a=11', 'b.yml': 'service/b=2' });
    await rename(join(dir, 'b.yml'), join(dir, 'c.yaml'));
    await expectLatest({ 'a.yaml': 'service/a=11', 'c.yaml': 'service/b=2' });
    await unlink(join(dir, 'a.yaml'));
    await expectLatest({ 'c.yaml': 'service/b=2' });
    await writeFile(join(dir, 'c.yaml'), svc('b', 'oops'));
    await expectLatest({ 'c.yaml': 'errors:1' });
  });

  it('handles editor temp-file-and-rename saves and subdirectories, ignoring temp names', async () => {
    const dir = join(tmp.path, 'editor');
    await mkdir(dir);
    const { source, seen, expectLatest } = await startSource(dir, dir);
    sources.push(source);
    assert.deepEqual(seen, [{}]);
    await saveViaRename(join(dir, 'a.yaml'), svc('a', 1), 'a.yaml.tmp');
    await saveViaRename(join(dir, 'a.yaml'), svc('a', 2), '.a.yaml.swp');
    await writeFile(join(dir, '#a.yaml#'), svc('x', 9));
    await writeFile(join(dir, 'a.yaml~'), svc('x', 9));
    await expectLatest({ 'a.yaml': 'service/a=2' });
    await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(dir, 'sub', 'deeper', 'd.yaml'), svc('d', 4));
    await expectLatest({ 'a.yaml': 'service/a=2', 'sub/deeper/d.yaml': 'service/d=4' });
    for (const snap of seen) for (const f of Object.keys(snap)) assert.doesNotMatch(f, /tmp|swp|#|~/);
  });

  it('follows a Kubernetes ConfigMap "..data" symlink swap', async () => {
    const dir = join(tmp.path, 'configmap');
    await mkdir(join(dir, '..2024_01_01_a'), { recursive: true });
    await writeFile(join(dir, '..2024_01_01_a', 'x.yaml'), svc('x', 1));
    await symlink('..2024_01_01_a', join(dir, '..data'));
    await symlink('..data/x.yaml', join(dir, 'x.yaml'));
    const { source, seen, expectLatest } = await startSource(dir, dir);
    sources.push(source);
    assert.deepEqual(seen, [{ 'x.yaml': 'service/x=1' }]);
    await mkdir(join(dir, '..2024_01_01_b'));
    await writeFile(join(dir, '..2024_01_01_b', 'x.yaml'), svc('x', 2));
    await symlink('..2024_01_01_b', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await rm(join(dir, '..2024_01_01_a'), { recursive: true });
    await expectLatest({ 'x.yaml': 'service/x=2' });
  });

  it('follows a git-sync swap of the watched root symlink', async () => {
    const base = join(tmp.path, 'gitsync');
    await mkdir(join(base, 'wt-a'), { recursive: true });
    await writeFile(join(base, 'wt-a', 'x.yaml'), svc('x', 1));
    await symlink('wt-a', join(base, 'current'));
    const root = join(base, 'current');
    const { source, seen, expectLatest } = await startSource(root, root);
    sources.push(source);
    assert.deepEqual(seen, [{ 'x.yaml': 'service/x=1' }]);
    await mkdir(join(base, 'wt-b'));
    await writeFile(join(base, 'wt-b', 'x.yaml'), svc('x', 2));
    await writeFile(join(base, 'wt-b', 'y.yaml'), svc('y', 3));
    await symlink('wt-b', join(base, 'current.tmp'));
    await rename(join(base, 'current.tmp'), root);
    await rm(join(base, 'wt-a'), { recursive: true });
    await expectLatest({ 'x.yaml': 'service/x=2', 'y.yaml': 'service/y=3' });
    await writeFile(join(base, 'wt-b', 'y.yaml'), svc('y', 4)); // the new worktree is watched too
    await expectLatest({ 'x.yaml': 'service/x=2', 'y.yaml': 'service/y=4' });
  });

  it('waits for a missing directory, and follows it being deleted and re-created', async () => {
    const dir = join(tmp.path, 'late');
    const { source, seen, expectLatest } = await startSource(dir, dir);
    sources.push(source);
    assert.deepEqual(seen, [{}]);
    await mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), svc('a', 1));
    await expectLatest({ 'a.yaml': 'service/a=1' });
    await rm(dir, { recursive: true });
    await expectLatest({});
    await mkdir(dir);
    await writeFile(join(dir, 'b.yaml'), svc('b', 2));
    await expectLatest({ 'b.yaml': 'service/b=2' });
    await writeFile(join(dir, 'b.yaml'), svc('b', 3));
    await expectLatest({ 'b.yaml': 'service/b=3' });
  });

  it('does not apply a half-written file', async () => {
    const dir = join(tmp.path, 'partial');
    await mkdir(dir);
    const { source, seen, expectLatest } = await startSource(dir, dir);
    sources.push(source);
    const text = svc('p', 12345);
    const fh = await open(join(dir, 'p.yaml'), 'w');
    await fh.write(text.slice(0, text.length - 5)); // "port: 1" — valid, but not what is meant
    await fh.sync();
    await fh.write(text.slice(text.length - 5));
    await fh.close();
    await expectLatest({ 'p.yaml': 'service/p=12345' });
    assert.ok(!seen.some((s) => s['p.yaml'] === 'service/p=1'), JSON.stringify(seen));
  });

  it('rescans periodically as a safety net (and as the only mechanism with watch: false)', async () => {
    const dir = join(tmp.path, 'rescan');
    await mkdir(dir);
    const seen: Record<string, string>[] = [];
    const source = new DirectorySource({ dir, watch: false, debounceMs: 20, maxWaitMs: 200, rescanMs: 50 });
    sources.push(source);
    await source.start((snap) => seen.push(summary(dir, snap)));
    await writeFile(join(dir, 'a.yaml'), svc('a', 1));
    await eventually(() => assert.deepEqual(seen.at(-1), { 'a.yaml': 'service/a=1' }), { timeoutMs: 5000 });
    await unlink(join(dir, 'a.yaml'));
    await eventually(() => assert.deepEqual(seen.at(-1), {}), { timeoutMs: 5000 });
  });
});

describe('DirectorySource.close', () => {
  it('leaves no watchers or timers behind', async () => {
    const tmp = await tempDir('dockstack-close');
    try {
      await mkdir(join(tmp.path, 'sub'));
      await writeFile(join(tmp.path, 'sub', 'a.yaml'), svc('a', 1));
      const count = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap' || r === 'Timeout').length;
      const before = count();
      const source = new DirectorySource({ dir: tmp.path, debounceMs: 20, rescanMs: 50 });
      await source.start(() => undefined);
      await writeFile(join(tmp.path, 'sub', 'a.yaml'), svc('a', 2));
      assert.ok(count() > before, 'watching holds handles');
      await source.close();
      await eventually(() => assert.equal(count(), before), { timeoutMs: 2000 });
    } finally {
      await tmp.cleanup();
    }
  });
});
