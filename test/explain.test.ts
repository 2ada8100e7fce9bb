/**
 * `dockstack explain` through the real binary: type, default, description and sub-fields come from
 * the zod schemas, whose descriptions the generated JSON Schemas carry too; an unknown field is a
 * located usage error listing the fields there are.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { dockstack } from './harness/cli.ts';

test('explain subscription.spec.listen: description and sub-fields with types, defaults, required', async () => {
  const r = await dockstack(['explain', 'subscription.spec.listen']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^KIND: +Subscription\nFIELD: +spec\.listen <object>\n\nDESCRIPTION:\n {2}The local listener the application connects to/);
  assert.match(r.stdout, /^ {2}address\t<string> {2}\(default "127\.0\.0\.1"\)\n {4}Local address HAProxy binds/m);
  assert.match(r.stdout, /^ {2}port\t<integer> -required-\n/m);
});

test("a union's discriminator lists every shape; a leaf shows its default", async () => {
  assert.match((await dockstack(['explain', 'service.spec.checks'])).stdout, /^ {2}type\t<string \("tcp" \| "http" \| "mysql" \| "redis"\)> -required-$/m);
  const leaf = await dockstack(['explain', 'subscription.spec.failStatic']);
  assert.match(leaf.stdout, /^FIELD: +spec\.failStatic <boolean>\nDEFAULT: +true\n\nDESCRIPTION:\n {2}Keep the last known backends/m);
});

test('an unknown field or kind is a usage error naming what exists', async () => {
  const r = await dockstack(['explain', 'subscription.spec.nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: explain: field "nope" does not exist in subscription\.spec\nhint: its fields: service, listen, mode,/);
  assert.equal((await dockstack(['explain', 'pod.spec'])).code, 2);
});

test('the JSON Schemas carry the same descriptions', async () => {
  const schema = JSON.parse(await readFile(new URL('../schemas/subscription.schema.json', import.meta.url), 'utf8')) as { properties: { spec: { properties: { listen: { description: string } } } } };
  assert.match(schema.properties.spec.properties.listen.description, /^The local listener the application connects to/);
});
