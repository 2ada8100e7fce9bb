import { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseKind } from '../kinds.ts';

/** `dockstack schema [KIND]`: print the JSON Schema generated from the zod schemas. */
export function schemaCommand(): Command {
  return new Command('schema')
    .description('print the JSON Schema of the manifests (all kinds, or one)')
    .argument('[kind]', 'service | subscription')
    .addHelpText('after', '\nExamples:\n  dockstack schema > dockstack.schema.json\n  dockstack schema service')
    .action(async (kind?: string) => {
      const k = kind === undefined ? undefined : parseKind(kind);
      if (kind !== undefined && !k) throw new UsageError(`unknown kind "${kind}"`, { hint: 'use service or subscription' });
      const { jsonSchemaFor } = await import('../../manifest/json-schema.ts');
      process.stdout.write(`${JSON.stringify(jsonSchemaFor(k), null, 2)}\n`);
    });
}
