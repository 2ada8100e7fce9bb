import { Command, Option } from 'commander';
import type { ObjectView } from '../../agent.ts';
import { DockstackError, UsageError } from '../../errors.ts';
import { keyOf } from '../../object-key.ts';
import type { StatusEvent } from '../../reconcile/status-store.ts';
import { parseKind, pluralOf } from '../kinds.ts';
import type { LiveServer } from '../../server/live-backends.ts';
import type { LiveBackends } from '../output.ts';
import { statusAddrOption, type StatusOpts } from '../shared-options.ts';
import { StatusClient } from '../status-client.ts';

const output = () => new Option('-o, --output <format>', 'wide | yaml | json | name | jsonpath=TEMPLATE | custom-columns=HEADER:EXPR,...');

/** `dockstack get services|subscriptions [NAME] [-o wide|yaml|json] [-w]` from the agent's status API. */
export function getCommand(): Command {
  return new Command('get')
    .description('list services or subscriptions with their conditions, from the running agent')
    .argument('<kind>', 'services | subscriptions')
    .argument('[name]')
    .addOption(output())
    .option('-w, --watch', 'after listing, stream changes')
    .option('--no-headers', 'omit the table header')
    .option('--sort-by <jsonpath>', 'order by a JSONPath expression, e.g. .metadata.name')
    .addOption(statusAddrOption())
    .addHelpText('after', `\nExamples:\n  dockstack get services\n  dockstack get subscription mysql -o yaml\n  dockstack get subs -w\n  dockstack get services -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}{.status.details.registryKey}{"\\n"}{end}'\n  dockstack get subs -o custom-columns=NAME:.metadata.name,LISTEN:.status.details.listen --sort-by=.metadata.name`)
    .action(async (kindArg: string, name: string | undefined, opts: StatusOpts & { output?: string; watch?: boolean; headers: boolean; sortBy?: string }) => {
      const kind = parseKind(kindArg);
      if (!kind) throw new UsageError(`unknown kind "${kindArg}"`, { hint: 'use services or subscriptions' });
      // The output code loads when the command runs, not with every command's definition.
      const { checkOutput, formatter, sortItems } = await import('../output-format.ts');
      checkOutput(opts.output);
      const fmt = { ...(opts.output !== undefined && { output: opts.output }), noHeaders: !opts.headers, ...(opts.sortBy !== undefined && { sortBy: opts.sortBy }) };
      const format = await formatter(fmt);
      const api = new StatusClient(opts);
      if (opts.watch) {
        const ac = new AbortController();
        process.once('SIGINT', () => ac.abort());
        let header = true;
        await api.stream(`/api/v1/watch?kind=${pluralOf(kind)}`, (item) => {
          const v = item as ObjectView;
          if (!('kind' in v) || (name && v.metadata.name !== name)) return;
          process.stdout.write(format([v], false, header));
          header = false;
        }, ac.signal);
        return;
      }
      const path = `/api/v1/${pluralOf(kind)}${name ? `/${encodeURIComponent(name)}` : ''}`;
      const res = await api.get<ObjectView | ObjectView[]>(path);
      if (res === undefined) throw new DockstackError('E_NOT_FOUND', `${kind.toLowerCase()} "${name}" not found`);
      const items = Array.isArray(res) ? (fmt.sortBy ? await sortItems(res, fmt.sortBy) : res) : [res];
      if (items.length === 0 && !opts.output) return void process.stderr.write(`No ${pluralOf(kind)} found.\n`);
      // A table says which commit of the manifests it shows (when they are a git checkout or git-sync link).
      if ((fmt.output === undefined || fmt.output === 'wide') && !fmt.noHeaders) {
        const source = await api.get<{ revision?: string }>('/api/v1/source').catch(() => undefined);
        if (source?.revision) process.stdout.write(`Revision: ${source.revision}\n`);
      }
      const live = fmt.output === 'wide' && kind === 'Subscription' ? await api.get<LiveBackends>('/api/v1/backends').catch(() => undefined) : undefined;
      process.stdout.write(format(items, !Array.isArray(res), true, live));
    });
}

/** `dockstack describe service|subscription NAME`: spec, status, conditions and recent events. */
export function describeCommand(): Command {
  return new Command('describe')
    .description('show one object in detail: spec, conditions, observed state and recent events')
    .argument('<kind>', 'service | subscription')
    .argument('<name>')
    .addOption(statusAddrOption())
    .addHelpText('after', '\nExample:\n  dockstack describe subscription mysql')
    .action(async (kindArg: string, name: string, opts: StatusOpts) => {
      const kind = parseKind(kindArg);
      if (!kind) throw new UsageError(`unknown kind "${kindArg}"`, { hint: 'use service or subscription' });
      const api = new StatusClient(opts);
      const view = await api.get<ObjectView>(`/api/v1/${pluralOf(kind)}/${encodeURIComponent(name)}`);
      if (!view) throw new DockstackError('E_NOT_FOUND', `${kind.toLowerCase()} "${name}" not found`);
      const events = (await api.get<StatusEvent[]>(`/api/v1/events?object=${encodeURIComponent(keyOf(kind, name))}`)) ?? [];
      let backends: LiveServer[] | string | undefined;
      if (kind === 'Subscription')
        backends = await api.get<LiveServer[]>(`/api/v1/subscriptions/${encodeURIComponent(name)}/backends`).catch((err: unknown) => `unavailable: ${(err as Error).message}`);
      const { renderDescribe } = await import('../output.ts');
      process.stdout.write(await renderDescribe(view, events, backends));
    });
}
