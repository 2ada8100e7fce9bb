/**
 * renderAndReload's fallback for a sampled `haproxy -c`, on real HAProxy: a config refused only in
 * a server line the sample left out passes the check, fails the reload, and is then checked in
 * full, which sets its listener apart. Every value reaching the model through HaproxyProxy is
 * canonical (wantOne refuses what HAProxy would), so the model is built here by hand: the renderer
 * takes a zone-scoped IPv6 literal (node's isIP does) that HAProxy cannot resolve.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { TerminalError } from '../src/errors.ts';
import { HaproxyProcess } from '../src/haproxy/haproxy-process.ts';
import { commit, newListenerState, type ListenerModel } from '../src/haproxy/listener-model.ts';
import { renderAndReload, type ReloadContext } from '../src/haproxy/render-and-reload.ts';
import { keyOf, type WantServer } from '../src/haproxy/slot-plan.ts';
import { secureStateDir } from '../src/haproxy/state-dir.ts';
import { SubscriptionSpec } from '../src/manifest/schema.ts';
import { listenerSpecOf } from '../src/reconcile/listener-spec.ts';
import { startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';

const spec = (port: number) => listenerSpecOf(SubscriptionSpec.parse({ service: '/services/x', listen: { port }, check: { type: 'none' } }));
const servers = (...ws: WantServer[]) => new Map(ws.map((w) => [keyOf(w), w]));
const server = (ip: string, port: number): WantServer => ({ ip, port, weight: 1, maint: false });

/** What HaproxyProcess was asked, in order: each check (of a config with or without the zone-scoped line) and each reload. */
type Step = `check ${'without' | 'with'} the zone line: ${'ok' | 'refused'}` | `reload ${'ok' | 'failed'}`;

class RecordingProcess extends HaproxyProcess {
  readonly steps: Step[] = [];
  override async validate(path: string): Promise<void> {
    const what = (await readFile(path, 'utf8')).includes('%lo') ? 'with' : 'without';
    try {
      await super.validate(path);
      this.steps.push(`check ${what} the zone line: ok`);
    } catch (err) {
      this.steps.push(`check ${what} the zone line: refused`);
      throw err;
    }
  }
  override async reload(): Promise<void> {
    try {
      await super.reload();
      this.steps.push('reload ok');
    } catch (err) {
      this.steps.push('reload failed');
      throw err;
    }
  }
}

let dir: Awaited<ReturnType<typeof tempDir>>;
let proc: RecordingProcess;
let a: TestBackend;
let b: TestBackend;
before(async () => {
  dir = await tempDir('ds-sampled-');
  await secureStateDir(dir.path);
  proc = new RecordingProcess({ dir: dir.path, bin: 'haproxy', readyTimeoutMs: 30_000 });
  [a, b] = [await startTcpBackend('a'), await startTcpBackend('b')];
});
after(async () => {
  await proc.stop();
  await Promise.all([a.close(), b.close()]);
  await dir.cleanup();
});

test('a server line only the full check sees: the sampled check passes, the reload fails, the full check sets its listener apart with a terminal error', async (t) => {
  const events: string[] = [];
  const ctx: ReloadContext = { dir: dir.path, proc, minSlots: 8, hardStopAfterMs: undefined, runAs: undefined, accessLog: undefined, lua: false, force: false, held: new Set(), event: (t, m) => events.push(`${t}: ${m}`) };
  const [webPort, goodPort] = [await freePort(), await freePort()];
  const model: ListenerModel = new Map([['web', newListenerState()]]);
  model.get('web')!.want = { spec: spec(webPort), servers: servers(server('127.0.0.1', a.port)) };
  commit(model, await renderAndReload(ctx, model));
  assert.equal(await whoAnswers(webPort), 'a');
  const master = proc.pid;

  // web: a second IPv6 line of the same kind as ::1 (weight 1, ready), so the sample keeps only ::1.
  model.get('web')!.want = { spec: spec(webPort), servers: servers(server('127.0.0.1', a.port), server('::1', 1), server('fe80::1%lo', 2)) };
  model.set('good', newListenerState());
  model.get('good')!.want = { spec: spec(goodPort), servers: servers(server('127.0.0.1', b.port)) };
  proc.steps.length = 0;
  const verdict = await renderAndReload(ctx, model);
  t.diagnostic(proc.steps.join(', '));

  assert.deepEqual(proc.steps.slice(0, 3), ['check without the zone line: ok', 'reload failed', 'check with the zone line: refused']);
  assert.equal(proc.steps.at(-1), 'reload ok');
  assert.equal(verdict.reloaded, true);
  assert.deepEqual([...verdict.running.keys()].sort(), ['good', 'web']);
  assert.deepEqual(verdict.running.get('web')!.slots.filter(Boolean), [{ ip: '127.0.0.1', port: a.port, weight: 1, admin: 'ready' }], 'web keeps the config that ran');
  const refused = verdict.rejected.get('web');
  assert.ok(refused instanceof TerminalError, `web rejected with ${String(refused)}`);
  assert.equal(refused.hint, 'change the Subscription spec');
  assert.match(refused.message, /could not resolve address '\[fe80::1%lo\]'/);
  assert.deepEqual([...verdict.rejected.keys()], ['web']);
  assert.ok(events.some((e) => e.startsWith('listener-rejected: HAProxy cannot take listener web: ')), events.join('\n'));

  commit(model, verdict);
  assert.equal(proc.pid, master, 'the same master, reloaded');
  assert.equal(await whoAnswers(goodPort), 'b', 'the listener coalesced with it landed');
  assert.equal(await whoAnswers(webPort), 'a', 'web still serves its last good config');
  assert.equal(model.get('web')!.slots.filter(Boolean).length, 1);
});
