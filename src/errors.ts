/**
 * One error family for DockStack. Every error carries a stable `code`, the context it happened in,
 * an optional `hint` for the user and the underlying `cause`. The CLI renders them with one formatter.
 * Every subclass is made the one way, `new XError(message, { cause, context, hint })`; the few that
 * locate or explain themselves (ManifestError, InstanceConflictError) build their full message from
 * `message` and their typed `context`.
 */
export const ERROR_CODES = [
  'E_MANIFEST', 'E_REGISTRY', 'E_REGISTRY_UNAVAILABLE', 'E_HAPROXY', 'E_HAPROXY_STATE', 'E_PROXY', 'E_PROXY_INPUT', 'E_TERMINAL',
  'E_USAGE', 'E_BAD_REQUEST', 'E_NOT_FOUND', 'E_NO_AGENT', 'E_STATUS_API', 'E_STATUS_LISTEN', 'E_STATE_DIR', 'E_OUTSIDE_MANIFESTS',
  'E_CONFIG', 'E_DIFF_FAILED', 'E_WAIT_FAILED', 'E_CHECK_FAILED', 'E_DOCKER', 'E_LISTEN_CONFLICT', 'E_ABORTED', 'E_INSTANCE_CONFLICT',
] as const;
/** Every code an error may carry: scripts and the status API match on these, never on message text. */
export type ErrorCode = (typeof ERROR_CODES)[number];

export class DockstackError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly context: Readonly<Record<string, unknown>>;
  /** The CLI's exit status when this error ends a command (1 unless a command's contract says otherwise, e.g. diff's 2). */
  readonly exitCode: number;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; hint?: string; context?: Record<string, unknown>; exitCode?: number } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    if (opts.hint !== undefined) this.hint = opts.hint;
    this.context = opts.context ?? {};
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** A source position: 1-based line and column. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Where in a manifest (or --config file) an error is. */
export interface ManifestLocation {
  readonly file: string;
  readonly position?: Position | undefined;
  /** The field's path ("spec.port"), when one field is at fault. */
  readonly field?: string | undefined;
}

/** A manifest that cannot be used: `detail` says why; its message adds where: "web.yaml:7:9 spec.port: …". */
export class ManifestError extends DockstackError {
  readonly file: string;
  readonly position: Position | undefined;
  readonly field: string | undefined;
  readonly detail: string;

  constructor(detail: string, opts: { context: ManifestLocation; cause?: unknown; hint?: string }) {
    const { file, position, field } = opts.context;
    const where = position ? `${file}:${position.line}:${position.column}` : file;
    super('E_MANIFEST', `${where}${field ? ` ${field}` : ''}: ${detail}`, { ...opts, context: { file, position, field } });
    this.file = file;
    this.position = position;
    this.field = field;
    this.detail = detail;
  }
}

/** A registry operation failed. `transient` errors (connection loss, timeouts) are retried with backoff. */
export class RegistryError extends DockstackError {
  readonly transient: boolean;
  constructor(message: string, opts: { transient: boolean; cause?: unknown; context?: Record<string, unknown>; hint?: string; code?: ErrorCode }) {
    super(opts.code ?? (opts.transient ? 'E_REGISTRY_UNAVAILABLE' : 'E_REGISTRY'), message, opts);
    this.transient = opts.transient;
  }
}

/**
 * Another agent's live registration holds our instance id for another host (two hosts configured
 * with one id). It is never overwritten or deleted; ours is not written until it is gone.
 */
export class InstanceConflictError extends RegistryError {
  readonly holder: string;
  /** `message` says what was being done ("registering /services/db/db-1"); the conflict is added to it. */
  constructor(message: string, opts: { context: { instanceId: string; holder: string }; cause?: unknown; hint?: string }) {
    const { instanceId, holder } = opts.context;
    super(`${message}: instance id ${instanceId} is held by another agent's live registration for ${holder}`, {
      transient: false,
      code: 'E_INSTANCE_CONFLICT',
      cause: opts.cause,
      context: { instanceId, holder },
      hint: opts.hint ?? 'give each host its own instance id (leave spec.instanceId unset for a per-host default)',
    });
    this.holder = holder;
  }
}

/** HAProxy refused a config or a runtime command; `output` is what HAProxy printed. */
export class HaproxyError extends DockstackError {
  readonly output: string;
  constructor(message: string, opts: { output?: string; cause?: unknown; hint?: string } = {}) {
    const output = opts.output ?? '';
    super('E_HAPROXY', output ? `${message}: ${output.trim()}` : message, { cause: opts.cause, context: { output }, ...(opts.hint !== undefined && { hint: opts.hint }) });
    this.output = output;
  }
}

/** A reconcile that cannot succeed until its input changes: not retried, surfaced as a condition. */
export class TerminalError extends DockstackError {
  constructor(message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super('E_TERMINAL', message, opts);
  }
}

/** Work given up because its caller stopped waiting (shutdown): not a failure of the work itself. */
export class AbortedError extends DockstackError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('E_ABORTED', message, opts);
  }
}

/** Exit status of a usage error (bad flag, argument or value): 2, as getopt tools and kubectl's wait/diff use it, so it never reads as wait's timeout or diff's "differs". */
export const USAGE_EXIT_CODE = 2;

/** A user mistake on the command line (bad flag, missing argument) or in the agent's options. */
export class UsageError extends DockstackError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('E_USAGE', message, { ...opts, exitCode: USAGE_EXIT_CODE });
  }
}

/**
 * One line for `err`, prefixed by what was being done when given:
 * describeError(err, 'creating znode /a') → "creating znode /a: connection lost". The cause chain
 * is not appended: by convention a message already names its cause's essentials ("connect:
 * ECONNREFUSED"), and appending raw causes would repeat them.
 */
export function describeError(err: unknown, doing?: string): string {
  const text = err instanceof Error ? err.message : String(err);
  return doing ? `${doing}: ${text}` : text;
}
