/**
 * Every benchmark scenario at its smoke size against real ZooKeeper, etcd and HAProxy: they must
 * complete and produce sane tables. Timing goals are not asserted — benchmarks never gate CI.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BenchEnv } from '../bench/bench-env.ts';
import { SCENARIOS } from '../bench/scenarios/index.ts';

for (const scenario of SCENARIOS) {
  test(`bench ${scenario.name} (smoke)`, { timeout: 120_000 }, async () => {
    const env = new BenchEnv();
    try {
      const result = await scenario.run(env, 'smoke');
      assert.ok(result.tables.length > 0, 'at least one table');
      for (const t of result.tables) {
        assert.ok(t.rows.length > 0, `${t.title}: rows`);
        for (const row of t.rows) {
          assert.equal(row.length, t.columns.length, `${t.title}: a cell per column`);
          // Every number in the table must be finite and non-negative; latency tables also need n and p50.
          assert.ok(!row.includes('NaN'), `${t.title}: NaN in ${row.join(' | ')}`);
          for (const cell of row) if (/^-?[\d.]+$/.test(cell)) assert.ok(Number(cell) >= 0, `${t.title}: ${cell} in ${row.join(' | ')}`);
          if (!t.columns.includes('p50 ms')) continue;
          const n = Number(row[t.columns.indexOf('n')] ?? row[t.columns.indexOf('requests')]);
          assert.ok(n > 0, `${t.title}: a positive sample count in ${row.join(' | ')}`);
          const p50 = Number(row[t.columns.indexOf('p50 ms')]);
          assert.ok(Number.isFinite(p50) && p50 >= 0 && p50 < 60_000, `${t.title}: a sane p50 in ${row.join(' | ')}`);
        }
      }
    } finally {
      await env.close();
    }
  });
}
