/** What `dockstack validate` does, shared by its commander action and the fast entry (validate-main.ts). */
import { loadPath } from '../manifest/load.ts';
import { validateFiles } from '../manifest/validate-files.ts';
import { ExitCode } from './exit-code.ts';
import { parseFlags, ValidateFlags } from './parse-flags.ts';

/** Validate `paths` offline, printing located errors (then ExitCode 1) or the count of valid manifests. */
export async function runValidate(paths: readonly string[], raw: unknown): Promise<void> {
  const opts = parseFlags(ValidateFlags, raw);
  const results = (await Promise.all(paths.map((p) => loadPath(p, { recursive: opts.recursive })))).flat();
  const errors = validateFiles(results);
  const count = results.reduce((n, r) => n + r.manifests.length, 0);
  for (const e of errors) process.stderr.write(`${e.message}\n`);
  if (errors.length) {
    process.stderr.write(`${errors.length} error(s) in ${results.length} file(s)\n`);
    throw new ExitCode(1);
  }
  process.stdout.write(`${count} manifest(s) in ${results.length} file(s) valid\n`);
}
