/**
 * The agent's heap policy (src/cli/agent-heap.ts) works through node:v8 flags set at run time; a
 * Node that froze its flags after start-up would silently undo it. Run in a child process, whose
 * heap starts fresh: the young generation must stay small through an allocation burst, and the
 * heap must be given back once the process goes quiet.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const MODULE = fileURLToPath(new URL('../src/cli/agent-heap.ts', import.meta.url));
const CHILD = `
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
const { tuneAgentHeap } = await import(${JSON.stringify(MODULE)});
const stop = tuneAgentHeap();
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
let keep = [];
for (let i = 0; i < 600000; i++) keep.push({ i, s: 'x' + i });
const young = newSpace();
const burst = getHeapStatistics().total_heap_size;
keep = undefined;
const deadline = Date.now() + 20000;
while (getHeapStatistics().total_heap_size > burst - 16 * 1048576 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
stop();
console.log(JSON.stringify({ young, burst, after: getHeapStatistics().total_heap_size }));
`;

test('the young generation stays small, and a quiet process gives its burst back', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { timeout: 60_000 });
  const r = JSON.parse(stdout) as { young: number; burst: number; after: number };
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  assert.ok(r.young <= 4 * 1048576, `new space ${mib(r.young)} after the burst (16 MiB semi-spaces would be 32)`);
  assert.ok(r.after <= r.burst - 16 * 1048576, `heap ${mib(r.burst)} after the burst, still ${mib(r.after)} when quiet`);
});
