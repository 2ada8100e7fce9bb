import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { jsonSchemaFor, schemaFiles } from '../src/manifest/json-schema.ts';

describe('JSON Schema', () => {
  it('makes defaulted fields optional and keeps required ones required', () => {
    const s = jsonSchemaFor('Service') as { properties: { spec: { required: string[] } }; $id: string };
    assert.equal(s.$id, 'service.schema.json');
    assert.deepEqual(s.properties.spec.required.sort(), ['path', 'port']);
    const any = jsonSchemaFor() as { oneOf?: unknown[]; anyOf?: unknown[] };
    assert.equal((any.oneOf ?? any.anyOf)?.length, 2);
  });

  it('committed schemas/ files are up to date (npm run schemas)', async () => {
    for (const [name, text] of schemaFiles()) assert.equal(await readFile(`schemas/${name}`, 'utf8'), text, `schemas/${name} is stale`);
  });
});
