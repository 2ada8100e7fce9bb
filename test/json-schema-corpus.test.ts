/**
 * The published JSON Schema (schemas/manifest.schema.json, what editors check with) decides like
 * the agent on every document of the bad corpus and the good fixtures: Ajv refuses a document
 * exactly when the validator does. Excluded, by rule and counted: files the parser refuses as a
 * whole (YAML syntax, size, binary, nesting), and errors JSON Schema cannot express (a name
 * defined twice in one file, alias expansion limits, a mapping or sequence used as a key).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { LineCounter, parseAllDocuments } from 'yaml';
import { collectionKeyError } from '../src/manifest/located-issues.ts';
import { parseManifestBytes } from '../src/manifest/load.ts';
import { MAX_ALIAS_COUNT } from '../src/manifest/parse.ts';

const ajv = new Ajv2020({ allErrors: true, strict: true });
const validate = ajv.compile(JSON.parse(await readFile('schemas/manifest.schema.json', 'utf8')) as object);

/** Per document of `file`: undefined when JSON Schema cannot judge it, else whether the agent and Ajv accept it. */
async function verdicts(dir: string, file: string): Promise<Array<{ doc: number; agent: boolean; ajv: boolean } | undefined>> {
  const bytes = await readFile(join(dir, file));
  const r = parseManifestBytes(bytes, file);
  if (r.fatal) return [undefined];
  const docs = parseAllDocuments(bytes.toString('utf8').replace(/^\uFEFF/, ''), { uniqueKeys: true });
  return (Array.isArray(docs) ? docs : []).map((d, doc) => {
    if (d.contents === null) return undefined; // an empty document: nothing to judge
    if (collectionKeyError(d, new LineCounter(), file)) return undefined; // YAML that has no JSON form
    let data: unknown;
    try {
      data = d.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch {
      return undefined; // alias expansion refused: a parser limit, not a schema rule
    }
    if (data === null) return undefined;
    const agent = r.manifests.some((m) => m.index === doc);
    const duplicate = !agent && r.errors.some((e) => /: duplicate (Service|Subscription) /.test(e.message));
    return duplicate ? undefined : { doc, agent, ajv: validate(JSON.parse(JSON.stringify(data))) };
  });
}

describe('JSON Schema and validator agree', () => {
  test('on every judgeable document of the bad corpus and the good fixtures', async () => {
    let judged = 0;
    let excluded = 0;
    const disagree: string[] = [];
    for (const dir of ['test/fixtures/bad', 'test/fixtures/good', 'manifests']) {
      for (const f of (await readdir(dir)).filter((x) => /\.(ya?ml|json)$/.test(x) && x !== 'expected.json').sort()) {
        for (const v of await verdicts(dir, f)) {
          if (!v) excluded++;
          else {
            judged++;
            if (v.agent !== v.ajv) disagree.push(`${dir}/${f} document ${v.doc}: agent ${v.agent ? 'accepts' : 'refuses'}, Ajv ${v.ajv ? 'accepts' : 'refuses'}`);
          }
        }
      }
    }
    assert.deepEqual(disagree, []);
    assert.ok(judged >= 250, `${judged} documents judged, ${excluded} excluded`);
  });

  test('the fields the issue named are refused by the schema itself', () => {
    const sub = (spec: object) => ({ apiVersion: 'dockstack.io/v1alpha1', kind: 'Subscription', metadata: { name: 'web' }, spec: { service: '/services/web', ...spec } });
    assert.equal(validate(sub({ listen: { port: 8080 } })), true);
    assert.equal(validate(sub({ listen: { address: '127.0.0.1:9032', port: 8080 } })), false);
    for (const s of ['10.0.0.1', '10.0.0.1:99999', '10.0.0.1:0', 'a b:80']) assert.equal(validate(sub({ listen: { port: 8080 }, defaultServers: [s] })), false, s);
    assert.equal(validate(sub({ listen: { port: 8080 }, defaultServers: ['10.0.0.1:3306', '[::1]:3306', 'db.local:80'] })), true);
    assert.equal(validate(sub({ listen: { port: 8080 }, check: { type: 'http', hostHeader: 'fe80::1%eth0' } })), false, 'a Host header with a zone');
    assert.equal(validate(sub({ listen: { port: 8080 }, check: { type: 'http', hostHeader: 'fe80::1' } })), true);
  });
});
