#!/usr/bin/env node
// SIGUSR1 would open Node's inspector: unauthenticated code execution as the agent for any local
// user allowed to signal it. A listener, installed before anything else runs, turns that off.
process.on('SIGUSR1', () => process.stderr.write('dockstack: SIGUSR1 ignored (the inspector is disabled)\n'));
// Runs the compiled CLI (dist/) in this same process, so signals reach the agent. In a development
// clone whose sources are newer than dist/ (or with no dist/), it runs the TypeScript sources
// through tsx instead and says so on --version: a stale build never runs silently.
import { readdirSync, statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// The agent's young generation stays small (src/cli/agent-heap.ts says why); set before any module
// loads, since a young generation that has grown stays grown. The other commands are short-lived.
if (['agent', 'nerve', 'synapse'].includes(process.argv[2])) setFlagsFromString('--semi-space-growth-factor=1');

const root = new URL('../', import.meta.url);
const mtime = (url) => { try { return statSync(url).mtimeMs; } catch { return undefined; } };

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
    newest = Math.max(newest, e.isDirectory() ? newestSource(url) : (mtime(url) ?? 0));
  }
  return newest;
}

// `validate` starts at its own entry, which runs the plain form without commander (src/cli/validate-main.ts).
const entry = process.argv[2] === 'validate' ? 'validate-main' : 'main';
const built = mtime(new URL(`dist/cli/${entry}.js`, root));
const sources = mtime(new URL('src/', root)) === undefined ? undefined : newestSource(new URL('src/', root));
const why = built === undefined ? 'no dist/ build' : sources !== undefined && sources > built ? 'dist/ is older than src/' : undefined;
if (why === undefined) {
  await import(`../dist/cli/${entry}.js`);
} else {
  process.env.DOCKSTACK_RUNNING_FROM = `sources: ${why}, run npm run build`;
  const { register } = await import('tsx/esm/api');
  register();
  await import(`../src/cli/${entry}.ts`);
}
