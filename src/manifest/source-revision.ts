/**
 * Which commit a manifests directory holds, as Flux reports lastAppliedRevision: a git-sync link
 * resolving into a worktree named by its commit, or a git checkout (its HEAD, read from .git
 * without running git: loose ref, packed-refs, or a linked worktree's common dir). Undefined when
 * the directory is neither.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

const SHA_RE = /^[0-9a-f]{40}$/;

export async function sourceRevision(dir: string): Promise<string | undefined> {
  const real = await realpath(dir).catch(() => undefined);
  const named = real ? /(?:^|[/_.-])([0-9a-f]{40})(?=\/|$)/.exec(real) : null;
  if (named) return named[1];
  for (let d = real ?? resolve(dir); ; d = dirname(d)) {
    const git = join(d, '.git');
    const st = await stat(git).catch(() => undefined);
    if (st) return headOf(st.isDirectory() ? git : await linkedGitDir(git, d)).catch(() => undefined);
    if (dirname(d) === d) return undefined;
  }
}

/** A worktree's `.git` file: "gitdir: PATH". */
async function linkedGitDir(file: string, base: string): Promise<string> {
  const m = /^gitdir: (.+)$/m.exec(await readFile(file, 'utf8'));
  if (!m) throw new Error(`${file}: no gitdir line`);
  return resolve(base, m[1]!.trim());
}

async function headOf(gitDir: string): Promise<string | undefined> {
  const head = (await readFile(join(gitDir, 'HEAD'), 'utf8')).trim();
  if (SHA_RE.test(head)) return head;
  const ref = /^ref: (refs\/\S+)$/.exec(head)?.[1];
  if (!ref) return undefined;
  const common = await readFile(join(gitDir, 'commondir'), 'utf8').then((c) => resolve(gitDir, c.trim()), () => gitDir);
  for (const d of new Set([gitDir, common])) {
    const loose = (await readFile(join(d, ref), 'utf8').catch(() => '')).trim();
    if (SHA_RE.test(loose)) return loose;
    const packed = await readFile(join(d, 'packed-refs'), 'utf8').catch(() => '');
    const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
    if (line && SHA_RE.test(line.slice(0, 40))) return line.slice(0, 40);
  }
  return undefined;
}
