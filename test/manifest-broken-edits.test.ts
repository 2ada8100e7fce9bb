/**
 * A live Service whose document is edited into YAML that cannot become a manifest's data: a
 * document that is not a mapping, a collection used as a key, aliases past the expansion limit.
 * The real agent on a watched directory and real ZooKeeper keeps the last good manifest in force,
 * so the Service stays registered, and shows the located error on it; the fixed file applies.
 * Each of these once dropped the Service (deregistering it) as if its document had been deleted.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { rawZooKeeper } from './harness/raw-registry.ts';
import { service } from './harness/static-source.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

const web = (port: number, extra = '') => service('web', `path: /services/web\nport: ${port}`).replace('spec:\n', `${extra}spec:\n`);
let bomb = '  annotations:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
for (let i = 1; i < 8; i++) bomb += `    a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;

describe('broken edits of a live manifest', () => {
  let zk: ZooKeeperServer;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let agent: RunningAgent;
  const file = () => join(tmp.path, 'm', 'web.yaml');
  /** The ports registered under /services/web, read by a plain client. */
  const registered = async (): Promise<number[]> => {
    const raw = await rawZooKeeper(zk.connectString);
    try {
      return [...(await raw.read('/services/web')).values()].map((d) => (JSON.parse(d) as { port: number }).port);
    } finally {
      await raw.close();
    }
  };
  const errorsOfWeb = () => agent.agent.view('Service').find((v) => v.metadata.name === 'web')?.status.validationErrors ?? [];

  before(async () => {
    zk = await startZooKeeper();
    tmp = await tempDir('ds-broken-edits');
    await mkdir(join(tmp.path, 'm'));
    await writeFile(file(), web(8080));
    agent = await startAgent({ manifestsDir: join(tmp.path, 'm'), registry: { url: `zk://${zk.connectString}` }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'none', haproxyDir: join(tmp.path, 'unused') });
    await eventually(async () => assert.deepEqual(await registered(), [8080]), { timeoutMs: 20_000 });
  });
  after(async () => {
    await agent?.stop();
    await zk?.stop();
    await tmp?.cleanup();
  });

  const cases: [string, string, RegExp][] = [
    ['a document that is not a mapping', `- ${web(9090).trimEnd().split('\n').join('\n  ')}\n`, /web\.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got a list/],
    ['a collection used as a key', web(9090, '  annotations: {[a, b]: x}\n'), /web\.yaml:5:17 metadata\.annotations: a mapping key must be a scalar/],
    ['aliases past the expansion limit', web(9090, bomb), /web\.yaml:1:1: cannot expand document: Excessive alias count/],
  ];
  for (const [what, text, error] of cases) {
    test(`${what}: the Service stays registered as it was, with the located error, until the file is fixed`, async () => {
      await writeFile(file(), text);
      await eventually(() => assert.match(errorsOfWeb().join('\n'), error), { timeoutMs: 10_000, message: 'the error shows on the Service' });
      assert.deepEqual(await registered(), [8080], 'still registered, at its last good port');
      await writeFile(file(), web(8080));
      await eventually(() => assert.deepEqual(errorsOfWeb(), []), { timeoutMs: 10_000, message: 'the fixed file applies' });
      assert.deepEqual(await registered(), [8080]);
    });
  }
});
