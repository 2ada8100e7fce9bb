/**
 * The HAProxy state dir holds the admin sockets, the config and HAProxy's output. Whoever can write
 * it can plant a symlink where we append or read (measured before this check: in a world-writable
 * dir, `nobody` got HAProxy output appended to a root-only file). So: create it 0700, refuse one
 * owned by another user or writable by group/others, and open files in it without following links.
 */
import { constants, openSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { DockstackError } from '../errors.ts';

/** Create `dir` (0700) or check an existing one. Throws E_STATE_DIR with what is wrong and the fix. */
export async function secureStateDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await chmod(dir, 0o700); // the umask may have loosened it
  const st = await stat(dir);
  const uid = process.getuid?.();
  const refuse = (why: string) =>
    new DockstackError('E_STATE_DIR', `using ${dir} as the HAProxy state dir: ${why}`, { hint: `chown it to this user and chmod 700, or pick another --haproxy-dir` });
  if (!st.isDirectory()) throw refuse('not a directory');
  if (uid !== undefined && st.uid !== uid) throw refuse(`owned by uid ${st.uid}, not by this agent (uid ${uid})`);
  if ((st.mode & 0o022) !== 0) throw refuse(`writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`);
}

/** Open `path` for appending (created 0600), refusing a symlink (ELOOP). Returns the fd. */
export function openAppendNoFollow(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
}

/** Flags for reading a file in the state dir without following a symlink. */
export const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;
