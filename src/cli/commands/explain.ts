/** `dockstack explain KIND[.FIELD…]`; the schema walk (src/cli/explain.ts) loads only when it runs. */
import { Command } from 'commander';

export function explainCommand(): Command {
  return new Command('explain')
    .description('document a manifest field: type, default, description and sub-fields, from the schemas')
    .argument('<field>', 'KIND[.FIELD...], e.g. subscription.spec.listen')
    .addHelpText('after', '\nExamples:\n  dockstack explain subscription.spec\n  dockstack explain subscription.spec.listen\n  dockstack explain service.spec.checks')
    .action(async (field: string) => {
      const { explain } = await import('../explain.ts');
      process.stdout.write(explain(field));
    });
}
