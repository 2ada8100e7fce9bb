// The build's second step: files under src/ that tsc does not emit (the dashboard's HTML, CSS and
// JS) are copied to the same place under dist/, where the compiled modules read them.
import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const [from = 'src', to = 'dist'] = process.argv.slice(2);
for (const e of readdirSync(from, { withFileTypes: true, recursive: true })) {
  if (!e.isFile() || e.name.endsWith('.ts')) continue;
  const rel = join(e.parentPath ?? e.path, e.name).slice(from.length);
  cpSync(join(from, rel), join(to, rel));
}
