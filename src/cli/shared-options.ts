/**
 * The options several CLI commands share, defined once: where the manifests are, and how to reach
 * the agent's status API. Plain commander options (no zod), so the short-lived commands stay light.
 */
import { Option } from 'commander';

export const DEFAULT_STATUS_ADDR = '127.0.0.1:7070';

/** `--manifests DIR` of apply, delete, diff and create: the directory the agent watches. */
export const manifestsOption = () => new Option('--manifests <dir>', 'the watched manifests directory').env('DOCKSTACK_MANIFESTS').default('manifests');

/** `--status-addr ADDR` of the commands that ask the agent. */
export const statusAddrOption = () => new Option('--status-addr <addr>', 'the agent status API').env('DOCKSTACK_STATUS_ADDR').default(DEFAULT_STATUS_ADDR);

/** `--status-token TOKEN` of the commands that write through the agent (drain, maintenance). */
export const statusTokenOption = () => new Option('--status-token <token>', 'the agent\'s write token').env('DOCKSTACK_STATUS_TOKEN');

/** What the options above give an action. */
export interface StatusOpts {
  readonly statusAddr: string;
  readonly statusToken?: string;
}
