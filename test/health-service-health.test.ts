import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { HealthCheckSpec } from '../src/manifest/schema.ts';
import { CheckFailed } from '../src/health/check-failed.ts';
import type { HealthCheck } from '../src/health/health-check.ts';
import { INITIAL_RISE_FALL, nextRiseFall, type RiseFallState } from '../src/health/rise-fall.ts';
import { ServiceHealth, type Timers } from '../src/health/service-health.ts';
import { eventually } from './harness/eventually.ts';

/** Timers that fire only when the test says so. */
class FakeTimers implements Timers {
  private next = 1;
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.next++;
    this.pending.set(id, { fn, ms });
    return id;
  };
  clearTimeout = (handle: unknown): void => void this.pending.delete(handle as number);
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const t of due) t.fn();
  }
}

/** A check whose next results the test scripts; 'hang' waits until aborted. */
class ScriptedCheck implements HealthCheck {
  readonly type = 'fake';
  calls = 0;
  running = 0;
  maxRunning = 0;
  signals: AbortSignal[] = [];
  constructor(readonly target: string, public next: 'pass' | 'fail' | 'hang' = 'pass') {}
  async check(signal: AbortSignal): Promise<void> {
    this.calls++;
    this.signals.push(signal);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.next === 'fail') throw new CheckFailed(`connecting to ${this.target}: ECONNREFUSED`);
      if (this.next === 'hang') await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    } finally {
      this.running--;
    }
  }
}

const spec = (rise: number, fall: number) => HealthCheckSpec.parse({ type: 'tcp', rise, fall, intervalMs: 1000 });

/** A ServiceHealth over scripted checks and fake timers, plus a way to run one round. */
function harness(checks: { rise: number; fall: number }[]) {
  const timers = new FakeTimers();
  const fakes = checks.map((_, i) => new ScriptedCheck(`10.0.0.${i + 1}:80`));
  const changes: boolean[] = [];
  let made = 0;
  const health = new ServiceHealth(checks.map((c) => spec(c.rise, c.fall)), { host: '10.0.0.1', port: 80 }, (h) => changes.push(h), {
    timers,
    createCheck: () => fakes[made++]!,
  });
  /** Wait until every check has reported this round (each then arms its next timer). */
  const settled = () => eventually(() => assert.equal(timers.pending.size, fakes.length), { timeoutMs: 2000 });
  /** Run the next round with these results. */
  const round = async (...results: ('pass' | 'fail')[]) => {
    results.forEach((r, i) => (fakes[i]!.next = r));
    timers.fireAll();
    await settled();
  };
  return { timers, fakes, changes, health, settled, round };
}

describe('rise/fall', () => {
  const apply = (results: boolean[], rise: number, fall: number, from: RiseFallState = INITIAL_RISE_FALL) =>
    results.reduce((s, passed) => nextRiseFall(s, passed, { rise, fall }), from);

  it('starts down and rises after `rise` consecutive passes', () => {
    assert.equal(INITIAL_RISE_FALL.up, false);
    assert.equal(apply([true], 2, 3).up, false);
    assert.equal(apply([true, true], 2, 3).up, true);
    assert.equal(apply([true, false, true], 2, 3).up, false);
  });

  it('falls after `fall` consecutive failures, not fewer', () => {
    const up = apply([true, true], 2, 3);
    assert.equal(apply([false, false], 2, 3, up).up, true);
    assert.equal(apply([false, false, true, false, false], 2, 3, up).up, true);
    assert.equal(apply([false, false, false], 2, 3, up).up, false);
  });

  it('counts consecutive results', () => {
    const s = apply([true, true, true, false, false], 2, 5);
    assert.deepEqual(s, { up: true, consecutiveSuccesses: 0, consecutiveFailures: 2 });
  });
});

describe('ServiceHealth', () => {
  it('is healthy at once with no checks, without calling onChange', async () => {
    const changes: boolean[] = [];
    const h = new ServiceHealth([], { host: '127.0.0.1', port: 1 }, (x) => changes.push(x));
    assert.equal(h.healthy, true);
    h.start();
    await h.stop();
    assert.deepEqual(h.statuses(), []);
    assert.deepEqual(changes, []);
  });

  it('runs each check at once on start, rises and falls, and calls onChange only on transitions', async () => {
    const { fakes, changes, health, settled, round } = harness([{ rise: 2, fall: 3 }]);
    assert.equal(health.healthy, false);
    health.start();
    await settled();
    assert.equal(fakes[0]!.calls, 1);
    assert.deepEqual(changes, []);
    await round('pass');
    assert.deepEqual(changes, [true]);
    assert.equal(health.healthy, true);
    for (const r of ['pass', 'fail', 'fail', 'pass', 'fail', 'fail'] as const) await round(r);
    assert.deepEqual(changes, [true]);
    await round('fail');
    assert.deepEqual(changes, [true, false]);
    assert.equal(health.healthy, false);
    await health.stop();
  });

  it('does not flap when the backend flaps faster than rise/fall allow', async () => {
    const { fakes, changes, health, settled, round } = harness([{ rise: 2, fall: 2 }]);
    fakes[0]!.next = 'fail';
    health.start();
    await settled();
    for (let i = 0; i < 20; i++) await round(i % 2 === 0 ? 'pass' : 'fail');
    assert.deepEqual(changes, []);
    await round('pass');
    await round('pass');
    assert.deepEqual(changes, [true]);
    for (let i = 0; i < 20; i++) await round(i % 2 === 0 ? 'fail' : 'pass');
    assert.deepEqual(changes, [true]);
    await health.stop();
  });

  it('ANDs several checks', async () => {
    const { changes, health, settled, round } = harness([{ rise: 1, fall: 1 }, { rise: 1, fall: 1 }]);
    health.start();
    await settled();
    assert.deepEqual(changes, [true]);
    await round('pass', 'fail');
    assert.deepEqual(changes, [true, false]);
    await round('fail', 'pass');
    assert.deepEqual(changes, [true, false]);
    await round('pass', 'pass');
    assert.deepEqual(changes, [true, false, true]);
    assert.deepEqual(health.statuses().map((s) => s.healthy), [true, true]);
    await health.stop();
  });

  it('reports per-check statuses', async () => {
    const { fakes, health, settled } = harness([{ rise: 2, fall: 2 }]);
    assert.deepEqual(health.statuses(), [
      { type: 'fake', target: '10.0.0.1:80', healthy: false, lastResult: 'none', consecutiveSuccesses: 0, consecutiveFailures: 0 },
    ]);
    fakes[0]!.next = 'fail';
    health.start();
    await settled();
    const [s] = health.statuses();
    assert.equal(s?.lastResult, 'fail');
    assert.equal(s?.lastError, 'connecting to 10.0.0.1:80: ECONNREFUSED');
    assert.equal(s?.consecutiveFailures, 1);
    assert.equal(typeof s?.latencyMs, 'number');
    assert.equal(new Date(s?.lastCheckAt ?? '').toISOString(), s?.lastCheckAt);
    await health.stop();
  });

  it('never overlaps runs of one check, and stop() aborts the run in flight and leaves nothing pending', async () => {
    const { timers, fakes, changes, health } = harness([{ rise: 1, fall: 1 }]);
    fakes[0]!.next = 'hang';
    health.start();
    health.start(); // idempotent
    await eventually(() => assert.equal(fakes[0]!.running, 1));
    assert.equal(timers.pending.size, 0, 'the next run is scheduled only after this one ends');
    await health.stop();
    assert.equal(fakes[0]!.signals[0]?.aborted, true);
    assert.equal(fakes[0]!.running, 0);
    assert.equal(fakes[0]!.maxRunning, 1);
    assert.equal(fakes[0]!.calls, 1);
    assert.equal(timers.pending.size, 0);
    assert.deepEqual(changes, []);
    assert.equal(health.statuses()[0]?.lastResult, 'none', 'an aborted run is not a result');
  });

  it('cancels the next timer on stop and never calls onChange afterwards', async () => {
    const { timers, changes, health, settled } = harness([{ rise: 1, fall: 1 }]);
    health.start();
    await settled();
    assert.deepEqual(changes, [true]);
    await health.stop();
    assert.equal(timers.pending.size, 0);
    health.start(); // a stopped ServiceHealth stays stopped
    assert.equal(timers.pending.size, 0);
    assert.deepEqual(changes, [true]);
  });

  it('reports an onChange that throws to onError instead of crashing the loop', async () => {
    const timers = new FakeTimers();
    const errors: unknown[] = [];
    const h = new ServiceHealth([spec(1, 1)], { host: '10.0.0.1', port: 80 }, () => { throw new Error('boom'); }, {
      timers,
      createCheck: () => new ScriptedCheck('10.0.0.1:80'),
      onError: (e) => errors.push(e),
    });
    h.start();
    await eventually(() => assert.equal(errors.length, 1));
    assert.equal(h.healthy, true);
    assert.equal(timers.pending.size, 1, 'the loop goes on');
    await h.stop();
  });

  it('follows a real TCP backend going up and down with real timers', async () => {
    const srv = createServer((s) => s.destroy());
    const port = await new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as { port: number }).port)));
    const changes: boolean[] = [];
    const h = new ServiceHealth([HealthCheckSpec.parse({ type: 'tcp', intervalMs: 50, timeoutMs: 1000, rise: 2, fall: 2 })], { host: '127.0.0.1', port }, (x) => changes.push(x));
    try {
      h.start();
      await eventually(() => assert.deepEqual(changes, [true]), { timeoutMs: 5000 });
      await new Promise((r) => srv.close(r));
      await eventually(() => assert.deepEqual(changes, [true, false]), { timeoutMs: 5000 });
      assert.match(h.statuses()[0]?.lastError ?? '', /ECONNREFUSED/);
    } finally {
      await h.stop();
      if (srv.listening) srv.close();
    }
  });
});
