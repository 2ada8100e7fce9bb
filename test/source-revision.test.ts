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
  await writeFile(join(repo, 'db.yaml'), service('db', 'path: /services/db\nport: 3306'));
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
  await eventually(async () => assert.equal((await source()).revision, second));
  git('pack-refs', '--all');
  assert.equal(await sourceRevision(repo), second, 'read from packed-refs');
});

type View = { metadata: { revision?: string }; spec: { port: number }; status: { failedRevision?: string; validationErrors: string[]; conditions: { type: string; message: string }[] } };
const view = async (name: string) => (await (await fetch(`http://${running.statusAddr}/api/v1/services/${name}`)).json()) as View;

test('per object: the revision each manifest came from; a revision that fails validation shows beside the last good one', async () => {
  const [first, second] = [git('rev-parse', 'HEAD~1'), git('rev-parse', 'HEAD')];
  await eventually(async () => {
    assert.equal((await view('web')).metadata.revision, second, 'web changed in the second commit');
    assert.equal((await view('db')).metadata.revision, first, 'db is as the first commit left it');
  });

  await writeFile(join(repo, 'web.yaml'), service('web', 'path: /services/web\nport: eighty'));
  git('commit', '-qam', 'three: breaks web');
  const third = git('rev-parse', 'HEAD');
  await eventually(async () => {
    const web = await view('web');
    assert.equal(web.status.failedRevision, third);
    assert.equal(web.metadata.revision, second, 'the last good revision stays in force');
    assert.equal(web.spec.port, 8081);
    assert.match(web.status.validationErrors.join('\n'), /web\.yaml:\d+:\d+ spec\.port: /);
    const valid = web.status.conditions.find((c) => c.type === 'Valid')!;
    assert.match(valid.message, new RegExp(`revision ${third.slice(0, 12)} does not validate; the last good version, from revision ${second.slice(0, 12)}, stays in force`));
  });
  assert.equal((await view('db')).metadata.revision, first);
  assert.equal((await view('db')).status.failedRevision, undefined);
  const described = (await dockstack(['describe', 'service', 'web', '--status-addr', running.statusAddr])).stdout;
  assert.match(described, new RegExp(`^Revision: +${second}$`, 'm'));
  assert.match(described, new RegExp(`^Failed Revision: +${third} \\(does not validate; ${second.slice(0, 12)} stays in force\\)$`, 'm'));
  const wide = (await dockstack(['get', 'services', '-o', 'wide', '--status-addr', running.statusAddr])).stdout;
  assert.match(wide, new RegExp(`^Revision: ${third}\n`), 'the revision in force globally is the newest');
  assert.match(wide, new RegExp(`^web .* ${second.slice(0, 12)} \\(${third.slice(0, 12)} invalid\\)$`, 'm'));
  assert.match(wide, new RegExp(`^db .* ${first.slice(0, 12)}$`, 'm'));

  await writeFile(join(repo, 'web.yaml'), service('web', 'path: /services/web\nport: 8082'));
  git('commit', '-qam', 'four: fixes web');
  const fourth = git('rev-parse', 'HEAD');
  await eventually(async () => {
    const web = await view('web');
    assert.equal(web.metadata.revision, fourth);
    assert.equal(web.status.failedRevision, undefined);
    assert.equal(web.spec.port, 8082);
  });

  // A commit that changes no manifest moves the revision in force, not the objects'.
  await writeFile(join(repo, 'NOTES.txt'), 'not a manifest\n');
  git('add', 'NOTES.txt');
  git('commit', '-qm', 'five: notes');
  const fifth = git('rev-parse', 'HEAD');
  await eventually(async () => assert.equal(((await (await fetch(`http://${running.statusAddr}/api/v1/source`)).json()) as { revision?: string }).revision, fifth));
  assert.equal((await view('web')).metadata.revision, fourth);
});

test('a git-sync link: the commit its target worktree is named by', async () => {
  const sha = 'a'.repeat(40);
  await mkdir(join(dir, `rev-${sha}`));
  await symlink(join(dir, `rev-${sha}`), join(dir, 'current'));
  assert.equal(await sourceRevision(join(dir, 'current')), sha);
  assert.equal(await sourceRevision(join(dir, 'hp')), undefined);
});
