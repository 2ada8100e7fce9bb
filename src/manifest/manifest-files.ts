/**
 * Which directory entries are manifests, shared by `loadPath` and the directory watcher so the CLI
 * `validate` and the agent see the same files.
 */
import { basename, extname } from 'node:path';

/** Editor/backup/temp names: dotfiles, "x~", ".swp", ".tmp", "#x#". (ConfigMap "..data" dirs are dotfiles: reached via their symlinks.) */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || name.endsWith('.swp') || name.endsWith('.swx') || name.endsWith('.tmp') || (name.startsWith('#') && name.endsWith('#'));
}

/** A manifest file by name: .yaml, .yml or .json, not ignored. */
export function isManifestFile(path: string): boolean {
  const name = basename(path);
  return !isIgnoredName(name) && ['.yaml', '.yml', '.json'].includes(extname(name).toLowerCase());
}
