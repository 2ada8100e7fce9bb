import { Command } from 'commander';

/** `dockstack validate PATH…`: offline validation with located errors; exit 1 on any error. */
export function validateCommand(): Command {
  return new Command('validate')
    .description('validate manifest files or directories offline; located errors, exit 1 if any')
    .argument('<paths...>', 'files or directories (- for stdin)')
    .option('-R, --recursive', 'descend into subdirectories', true)
    .addHelpText('after', '\nExamples:\n  dockstack validate manifests/\n  cat db.yaml | dockstack validate -')
    .action(async (paths: string[], raw: unknown) => (await import('../run-validate.ts')).runValidate(paths, raw));
}
