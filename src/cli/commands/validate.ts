import { Command } from 'commander';
import { ExitCode } from '../exit-code.ts';

/** `dockstack validate PATH…`: offline validation with located errors; exit 1 on any error. */
export function validateCommand(): Command {
  return new Command('validate')
    .description('validate manifest files or directories offline; located errors, exit 1 if any')
    .argument('<paths...>', 'files or directories (- for stdin)')
    .option('-R, --recursive', 'descend into subdirectories', true)
    .addHelpText('after', '\nExamples:\n  dockstack validate manifests/\n  cat db.yaml | dockstack validate -')
    .action(async (paths: string[], raw: unknown) => {
      const [{ loadPath }, { validateFiles }, { parseFlags, ValidateFlags }] = await Promise.all([import('../../manifest/load.ts'), import('../../manifest/validate-files.ts'), import('../parse-flags.ts')]);
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
    });
}
