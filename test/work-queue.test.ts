import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TerminalError } from '../src/errors.ts';
import { Backoff } from '../src/backoff.ts';
import { WorkQueue, type Outcome } from '../src/reconcile/work-queue.ts';
import { eventually } from './harness/eventually.ts';

test('backoff doubles from the base and caps, per key', () => {
  const b = new Backoff({ baseMs: 100, capMs: 30_000, jitter: 0 });
  const delays = Array.from({ length: 12 }, () => b.next('a'));
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
  assert.equal(b.next('b'), 100, 'keys back off independently');
  assert.equal(b.retries('a'), 12);
  b.reset('a');
  assert.equal(b.next('a'), 100);
});

test('backoff jitter stays within ±20% and never exceeds the cap', () => {
  const low = new Backoff({ baseMs: 1000, capMs: 1500, random: () => 0 });
  const high = new Backoff({ baseMs: 1000, capMs: 1500, random: () => 0.999999 });
  assert.equal(low.next('k'), 800);
  assert.equal(high.next('k'), 1200);
  high.next('k');
  assert.equal(high.next('k'), 1500, 'capped after jitter');
});

test('a key queued many times while waiting runs once', async () => {
  const runs: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue(async (key) => {
    if (key === 'blocker') await gate;
    runs.push(key);
  }, { concurrency: 1 });
  q.add('blocker');
  for (let i = 0; i < 50; i++) q.add('a');
  assert.equal(q.depth, 1, 'blocker is running, only a waits');
  release();
  await q.idle();
  assert.deepEqual(runs, ['blocker', 'a']);
  await q.shutdown();
});

test('a key is never reconciled by two workers; an add during a run re-runs it after', async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue(async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    runs++;
    if (runs === 1) await gate;
    active--;
  }, { concurrency: 4 });
  q.add('k');
  await eventually(() => assert.equal(runs, 1));
  q.add('k');
  q.add('k');
  release();
  await eventually(() => assert.equal(runs, 2));
  await q.idle();
  assert.equal(maxActive, 1);
  assert.equal(runs, 2, 'two adds during a run coalesce into one re-run');
  await q.shutdown();
});

test('failures retry with growing backoff; success resets; terminal errors do not retry', async () => {
  const outcomes: Array<[string, Outcome]> = [];
  const scheduled: number[] = [];
  let fails = 3;
  const q = new WorkQueue(
    async (key) => {
      if (key === 'term') throw new TerminalError('bad input');
      if (fails-- > 0) throw new Error('registry down');
    },
    {
      backoff: new Backoff({ baseMs: 1, capMs: 4, jitter: 0 }),
      onResult: (key, outcome) => outcomes.push([key, outcome]),
      setTimer: (fn, ms) => {
        scheduled.push(ms);
        return setTimeout(fn, ms);
      },
    },
  );
  q.add('k');
  await eventually(() => assert.deepEqual(outcomes.at(-1), ['k', 'success']));
  assert.deepEqual(scheduled, [1, 2, 4]);
  assert.equal(q.retries('k'), 0);
  q.add('term');
  await eventually(() => assert.deepEqual(outcomes.at(-1), ['term', 'terminal']));
  await q.idle();
  assert.equal(scheduled.length, 3, 'terminal error scheduled no retry');
  await q.shutdown();
});

test('requeueAfterMs schedules another run; shutdown cancels delayed work', async () => {
  let runs = 0;
  const q = new WorkQueue(async () => {
    runs++;
    return { requeueAfterMs: runs < 3 ? 1 : 60_000 };
  });
  q.add('k');
  await eventually(() => assert.equal(runs, 3));
  await q.shutdown();
  q.add('k');
  await q.idle();
  assert.equal(runs, 3, 'no work after shutdown');
});

test('supersede aborts a running reconcile once it is supersedeAfterMs old, re-runs it at once, and counts no retry', async () => {
  const GRACE_MS = 200;
  const runs: Array<{ started: number; ended?: number; outcome?: string }> = [];
  const outcomes: Outcome[] = [];
  const q = new WorkQueue(async (_key, signal) => {
    const run: (typeof runs)[number] = { started: performance.now() };
    runs.push(run);
    if (runs.length === 1) await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    run.ended = performance.now();
  }, { supersedeAfterMs: GRACE_MS, onResult: (_k, o) => outcomes.push(o) });
  q.add('k');
  await eventually(() => assert.equal(runs.length, 1));
  q.supersede('k');
  q.supersede('k');
  await eventually(() => assert.deepEqual(outcomes, ['superseded', 'success']));
  assert.equal(runs.length, 2, 'two supersedes during one run: one abort, one re-run');
  assert.ok(runs[1]!.started - runs[0]!.started >= GRACE_MS - 1, `aborted ${runs[1]!.started - runs[0]!.started} ms after it started`);
  assert.equal(q.retries('k'), 0);
  await q.shutdown();
});

test('supersede never starves: a reconcile shorter than supersedeAfterMs finishes however often it is superseded', async () => {
  const outcomes: Outcome[] = [];
  const q = new WorkQueue(async (_key, signal) => {
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, 50);
      signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
    });
  }, { supersedeAfterMs: 150, onResult: (_k, o) => outcomes.push(o) });
  const every = setInterval(() => q.supersede('k'), 5);
  try {
    await eventually(() => assert.ok(outcomes.filter((o) => o === 'success').length >= 5, outcomes.join()), { timeoutMs: 10_000 });
  } finally {
    clearInterval(every);
  }
  assert.deepEqual(outcomes.filter((o) => o !== 'success'), []);
  await q.shutdown();
});
