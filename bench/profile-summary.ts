/**
 * `node --import tsx bench/profile-summary.ts FILE.cpuprofile [N]`: the top N frames of a V8 CPU
 * profile (from `node --cpu-prof`) by self time, with their share of the sampled time.
 */
import { readFile } from 'node:fs/promises';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, top = '15'] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [N]');
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  const f = byId.get(id)?.callFrame;
  if (!f) return;
  const where = f.url ? `${f.url.replace(/^.*\/(node_modules|src|bench|test)\//, '$1/')}:${f.lineNumber + 1}` : '';
  const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
});
console.log(`| self ms | share | frame |\n| --- | --- | --- |`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
  console.log(`| ${(us / 1000).toFixed(0)} | ${((100 * us) / total).toFixed(1)} % | \`${key}\` |`);
console.log(`\ntotal sampled: ${(total / 1000).toFixed(0)} ms`);
