/**
 * Flags parsed with zod at the action boundary, for the commands whose actions load zod anyway
 * (their manifest code needs it): import this module from the action, never at a command file's
 * top, so --help, --version and the status-API commands stay without zod. Measured: zod/mini alone,
 * bundled, adds ~36 ms (median, 25 runs, load 8) to a bare node start of ~139 ms; classic zod ~41 ms.
 */
import * as z from 'zod';
import { UsageError } from '../errors.ts';
import { issueMessage } from '../manifest/issue-format.ts';

/** --status-addr for `statusAddr`: the flag of an options key. Here, not beside the commander options, so validate's fast path loads no commander. */
export const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** `raw` (commander's opts) as `schema` says, or a UsageError naming the first bad flag (exit 2). */
export function parseFlags<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw, { error: issueMessage });
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new UsageError(`${flagOf(String(issue.path[0] ?? ''))}: ${issue.message}`);
}

/** The -f flags of apply, delete and diff. */
export const FileFlags = z.object({
  filename: z.array(z.string()).optional(),
  recursive: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  manifests: z.string(),
});

export type FileOpts = z.output<typeof FileFlags>;

/** apply's flags: the -f flags, and --prune with its -l selector. */
export const ApplyFlags = FileFlags.extend({ prune: z.boolean().optional(), selector: z.string().optional() });

/** delete's flags: the -f flags, and --ignore-not-found. */
export const DeleteFlags = FileFlags.extend({ ignoreNotFound: z.boolean().optional() });

/** validate's flags. */
export const ValidateFlags = z.object({ recursive: z.boolean() });
