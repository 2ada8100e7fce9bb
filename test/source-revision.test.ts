/**
 * The revision in force: a manifests directory that is a git checkout reports its HEAD commit (a
 * new commit is reported once checked out), a git-sync style link reports the commit its target is
 * named by; through GET /api/v1/source, dockstack_source_info{revision} and the line above `get`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sourceRevision } from '../src/manifest/source-revision.ts';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { service } from './harness/static-source.ts';

let dir: string;
let repo: string;
let running: RunningAgent;
const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-rev-'));
  repo = join(dir, 'repo');
  await mkdir(repo);
  git('init', '-q');
  await writeFile(join(repo, 'web.yaml'), service('web', 'path: /services/web\nport: 8080'));
  git('add', '.');
  git('commit', '-qm', 'one');
  running = await startAgent({ manifestsDir: repo, registry: new MemoryRegistry(), host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'none', haproxyDir: join(dir, 'hp') });
});
after(async () => {
  await running?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('a git checkout: the status API, the metric and get show HEAD; a new commit replaces it', async () => {
  const first = git('rev-parse', 'HEAD');
  const source = async () => (await (await fetch(`http://${running.statusAddr}/api/v1/source`)).json()) as { revision?: string };
  assert.equal((await source()).revision, first);
  assert.match(await (await fetch(`http://${running.statusAddr}/metrics`)).text(), new RegExp(`^dockstack_source_info\\{revision="${first}"\\} 1$`, 'm'));
  await eventually(async () => {
    const r = await dockstack(['get', 'services', '--status-addr', running.statusAddr]);
    assert.match(r.stdout, new RegExp(`^Revision: ${first}\\nNAME `));
  });
  await writeFile(join(repo, 'web.yaml'), service('web', 'path: /services/web\nport: 8081'));
  git('commit', '-qam', 'two');
  const second = git('rev-parse', 'HEAD');
  assert.notEqual(second, first);
  assert.equal((await source()).revision, second);
  git('pack-refs', '--all');
  assert.equal(await sourceRevision(repo), second, 'read from packed-refs');
});

test('a git-sync link: the commit its target worktree is named by', async () => {
  const sha = 'a'.repeat(40);
  await mkdir(join(dir, `rev-${sha}`));
  await symlink(join(dir, `rev-${sha}`), join(dir, 'current'));
  assert.equal(await sourceRevision(join(dir, 'current')), sha);
  assert.equal(await sourceRevision(join(dir, 'hp')), undefined);
});
