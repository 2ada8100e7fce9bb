/**
 * Writes schemas/*.json from the zod schemas. `--check` writes nothing and exits 1 if the committed
 * files are stale (for CI).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentConfigJsonSchema } from '../src/cli/agent-options.ts';
import { schemaFiles } from '../src/manifest/json-schema.ts';

const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
const check = process.argv.includes('--check');
const stale: string[] = [];

await mkdir(outDir, { recursive: true });
const files = schemaFiles().set('agent-config.schema.json', `${JSON.stringify(agentConfigJsonSchema(), null, 2)}\n`);
for (const [name, text] of files) {
  const path = join(outDir, name);
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === text) continue;
  if (check) stale.push(`schemas/${name}`);
  else {
    await writeFile(path, text);
    console.log(`wrote schemas/${name}`);
  }
}
if (stale.length > 0) {
  console.error(`stale JSON Schema: ${stale.join(', ')} differ from src/manifest/schema.ts or src/cli/agent-options.ts; run: npm run schemas`);
  process.exitCode = 1;
}
