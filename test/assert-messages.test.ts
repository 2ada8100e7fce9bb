/**
 * Every `assert.ok(value)` / `assert(value)` in test/ and bench/ carries a message. Without one, a
 * falsy value makes Node 20's assert build its message from the call's source: it reads the
 * TypeScript file and parses it with acorn, which TypeScript syntax can make take minutes. One failed
 * poll of `eventually(() => assert.ok(last?.reset))` in zookeeper-persistent-watch.test.ts held the
 * event loop for ~150 s (CPU profile: acorn's getLineInfo, raise and Parser), the ZooKeeper client's
 * timers starved, and the test failed 3 times out of 3 after a change elsewhere in the file.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const root = new URL('..', import.meta.url).pathname;

async function tsFiles(dir: string): Promise<string[]> {
  return (await readdir(join(root, dir), { recursive: true })).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
}

/** "file:line assert.ok(…)" for each call with a single argument. */
function messagelessAsserts(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.arguments.length === 1 && ['assert', 'assert.ok'].includes(n.expression.getText(sf)))
      found.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1} ${n.getText(sf).slice(0, 80)}`);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

test('the scan finds a one-argument assert.ok and assert, and passes one with a message', () => {
  const text = "assert.ok(a);\nassert(b);\nassert.ok(c, 'c');\nassert.equal(d, 1);\n";
  assert.deepEqual(messagelessAsserts('x.ts', text), ['x.ts:1 assert.ok(a)', 'x.ts:2 assert(b)']);
});

test('no assert.ok or assert without a message in test/ or bench/', async () => {
  const files = [...(await tsFiles('test')), ...(await tsFiles('bench'))];
  assert.ok(files.length > 50, `scanned ${files.length} files`);
  const found = (await Promise.all(files.map(async (f) => messagelessAsserts(f, await readFile(join(root, f), 'utf8'))))).flat();
  assert.deepEqual(found, [], 'give each a message (its expression will do)');
});
