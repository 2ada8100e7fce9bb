// Deletes the dev-only packages of ./node_modules, as package-lock.json marks them ("dev": true),
// and the .bin links left dangling. The image's build stage runs it instead of `npm prune
// --omit=dev`, so no stage of the image needs npm and its base carries none.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let removed = 0;
for (const [path, meta] of Object.entries(lock.packages ?? {})) {
  if (!path.startsWith('node_modules/') || meta.dev !== true || !existsSync(path)) continue;
  rmSync(path, { recursive: true, force: true });
  removed++;
}
const bin = 'node_modules/.bin';
for (const name of existsSync(bin) ? readdirSync(bin) : []) {
  try {
    statSync(join(bin, name));
  } catch {
    rmSync(join(bin, name), { force: true });
  }
}
rmSync('node_modules/.package-lock.json', { force: true }); // npm's cache of the tree, now stale
console.log(`prune-dev: removed ${removed} dev-only packages`);
