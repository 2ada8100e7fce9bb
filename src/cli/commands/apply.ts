/**
 * apply / delete / diff: edit the watched manifests directory the way kubectl edits the API
 * server. Invalid input writes nothing. diff follows kubectl's exit contract: 0 no diff, 1 diff,
 * >1 error.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { DockstackError, UsageError } from '../../errors.ts';
import { fileStemOf, keyOf, type ObjectKey } from '../../object-key.ts';
import { ExitCode } from '../exit-code.ts';
import { parseKind } from '../kinds.ts';
import { parseSelector } from '../label-selector.ts';
import type { SourceFile } from '../manifest-dir.ts';
import type { FileOpts } from '../parse-flags.ts';
import { manifestsOption } from '../shared-options.ts';

// The manifest code (zod, yaml) loads only when an action runs: --help and other commands stay light.
const manifestDir = () => import('../manifest-dir.ts');
// So do the flags' schemas, parsed first thing in each action (zod is loaded for the manifests anyway).
const flags = () => import('../parse-flags.ts');

const collect = (v: string, prev: string[] = []) => [...prev, v];

async function readValid(opts: FileOpts): Promise<SourceFile[]> {
  if (!opts.filename?.length) throw new UsageError('missing -f FILE|DIR|-', { hint: 'e.g. dockstack apply -f manifests/db.yaml' });
  const { inputErrors, readInputs } = await manifestDir();
  const inputs = await readInputs(opts.filename, opts.recursive ?? false);
  const errors = inputErrors(inputs);
  if (errors.length) {
    for (const e of errors) process.stderr.write(`${e.message}\n`);
    process.stderr.write(`${errors.length} error(s): nothing was written\n`);
    throw new ExitCode(1);
  }
  return inputs;
}

export function applyCommand(): Command {
  return new Command('apply')
    .description('validate manifests, then write them atomically into the watched directory')
    .option('-f, --filename <path>', 'file, directory or - (stdin); repeatable', collect)
    .option('-R, --recursive', 'descend into subdirectories of -f directories')
    .option('--dry-run', 'print what would change, write nothing')
    .option('--prune', 'also delete objects in --manifests that match -l and are not in the applied set')
    .option('-l, --selector <selector>', 'labels of the objects --prune may delete: app=web,tier!=db')
    .addOption(manifestsOption())
    .addHelpText('after', '\nExamples:\n  dockstack apply -f db.yaml\n  dockstack apply -f ./k8s -R --dry-run\n  cat db.yaml | dockstack apply -f -\n  dockstack apply -f ./app -R --prune -l app=web --dry-run')
    .action(async (raw: unknown) => {
      const { ApplyFlags, parseFlags } = await flags();
      const opts = parseFlags(ApplyFlags, raw);
      if (opts.prune && !opts.selector) throw new UsageError('--prune needs -l SELECTOR: only objects carrying those labels may be deleted', { hint: 'e.g. dockstack apply -f ./app --prune -l app=web' });
      if (opts.selector && !opts.prune) throw new UsageError('-l is only used with --prune');
      const matches = opts.selector ? parseSelector(opts.selector) : undefined;
      const { executePlan, inputObjects, planApply, planDelete, readManifestDir } = await manifestDir();
      const objects = inputObjects(await readValid(opts));
      const plan = await planApply(opts.manifests, objects);
      // Chosen before applying: prune candidates are objects outside the applied set, which apply does not touch.
      const applied = new Set(objects.map((o) => o.key));
      const prune = matches ? [...(await readManifestDir(opts.manifests)).index].filter(([key, at]) => !applied.has(key) && matches(at.manifest.metadata.labels)).map(([key]) => key).sort() : [];
      if (!opts.dryRun) await executePlan(plan, opts.manifests);
      for (const a of plan.actions) process.stdout.write(`${a.key} ${a.action}${opts.dryRun ? ' (dry run)' : ''}\n`);
      if (prune.length) {
        const deletion = await planDelete(opts.manifests, prune);
        if (!opts.dryRun) await executePlan(deletion, opts.manifests);
        for (const a of deletion.actions) process.stdout.write(`${a.key} pruned${opts.dryRun ? ' (dry run)' : ''}\n`);
      }
      if (plan.actions.length >= 20) {
        const count = (k: string) => `${plan.actions.filter((a) => a.action === k).length} ${k}`;
        process.stderr.write(`${plan.actions.length} objects: ${['created', 'configured', 'unchanged'].map(count).join(', ')}\n`);
      }
    });
}

export function deleteCommand(): Command {
  return new Command('delete')
    .description('remove objects from the watched directory (by -f, or by KIND NAME)')
    .argument('[kind]', 'service | subscription')
    .argument('[names...]')
    .option('-f, --filename <path>', 'file, directory or - naming the objects to delete; repeatable', collect)
    .option('-R, --recursive', 'descend into subdirectories of -f directories')
    .option('--ignore-not-found', 'treat a missing object as deleted')
    .option('--dry-run', 'print what would be deleted, write nothing')
    .addOption(manifestsOption())
    .addHelpText('after', '\nExamples:\n  dockstack delete service mysql\n  dockstack delete -f db.yaml')
    .action(async (kindArg: string | undefined, names: string[], raw: unknown) => {
      const { DeleteFlags, parseFlags } = await flags();
      const opts = parseFlags(DeleteFlags, raw);
      const { executePlan, inputObjects, planDelete } = await manifestDir();
      let keys: ObjectKey[];
      if (opts.filename?.length) keys = inputObjects(await readValid(opts)).map((o) => o.key);
      else {
        const kind = kindArg === undefined ? undefined : parseKind(kindArg);
        if (!kind || names.length === 0) throw new UsageError('expected -f FILE or KIND NAME...', { hint: 'e.g. dockstack delete service mysql' });
        keys = names.map((n) => keyOf(kind, n));
      }
      const plan = await planDelete(opts.manifests, keys);
      if (!opts.dryRun) await executePlan(plan, opts.manifests);
      for (const a of plan.actions) process.stdout.write(`${a.key} deleted${opts.dryRun ? ' (dry run)' : ''}\n`);
      if (plan.missing.length && !opts.ignoreNotFound) {
        for (const k of plan.missing) process.stderr.write(`error: ${k} not found in ${opts.manifests}\n`);
        throw new ExitCode(1);
      }
    });
}

export function diffCommand(): Command {
  return new Command('diff')
    .description('show a unified diff of what apply would change; exit 0 no diff, 1 diff, >1 error')
    .option('-f, --filename <path>', 'file, directory or -; repeatable', collect)
    .option('-R, --recursive', 'descend into subdirectories of -f directories')
    .addOption(manifestsOption())
    .addHelpText('after', '\nExample:\n  dockstack diff -f db.yaml && echo "no changes"')
    .action(async (raw: unknown) => {
      const { FileFlags, parseFlags } = await flags();
      const opts = parseFlags(FileFlags, raw);
      const { inputObjects, planApply } = await manifestDir();
      let plan;
      try {
        plan = await planApply(opts.manifests, inputObjects(await readValid(opts)));
      } catch (err) {
        if (err instanceof ExitCode) throw new ExitCode(2);
        throw new DockstackError('E_DIFF_FAILED', `diff: ${(err as Error).message}`, { cause: err, exitCode: 2 });
      }
      const root = await mkdtemp(join(tmpdir(), 'dockstack-diff-'));
      try {
        await Promise.all(['live', 'merged'].map((d) => mkdir(join(root, d))));
        for (const a of plan.actions) {
          const name = `${fileStemOf(a.key)}.yaml`;
          if (a.before) await writeFile(join(root, 'live', name), a.before);
          if (a.after) await writeFile(join(root, 'merged', name), a.after);
        }
        const code = await runDiff(root);
        if (code !== 0) throw new ExitCode(code === 1 ? 1 : 2);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
}

/** `diff -u -N -r live merged` from root, streaming to stdout; resolves with diff's exit code. */
function runDiff(root: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('diff', ['-u', '-N', '-r', 'live', 'merged'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', () => resolve(2));
    child.on('exit', (code) => resolve(code ?? 2));
  });
}
