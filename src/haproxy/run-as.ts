/**
 * HAProxy's workers should not keep root: the master binds the listeners and sockets as the agent,
 * then the workers switch to an unprivileged uid/gid (HAProxy's `uid`/`gid` global settings act after
 * binding). Root agents default to Debian's `haproxy` user; `--haproxy-user NAME` picks another,
 * `--haproxy-user root` keeps root.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';

export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** `name`'s uid and primary gid from /etc/passwd, or undefined if there is no such user. */
export function lookupUser(name: string, passwd = '/etc/passwd'): RunAs | undefined {
  let text: string;
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && /^\d+$/.test(uid ?? '') && /^\d+$/.test(gid ?? '')) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/**
 * Whom HAProxy's workers run as: nothing to change unless the agent is root; then `user` (required to
 * exist) or, by default, `haproxy` when that user exists.
 */
export function haproxyRunAs(user: string | undefined, agentUid = process.getuid?.()): RunAs | undefined {
  if (agentUid !== 0 || user === 'root') return undefined;
  const found = lookupUser(user ?? 'haproxy');
  if (!found && user !== undefined) throw new UsageError(`--haproxy-user: no user "${user}" in /etc/passwd`, { hint: 'create it, or pass --haproxy-user root to keep root' });
  return found && found.uid !== 0 ? found : undefined;
}
