/** The Docker provider's pure part: a labelled container → its Service manifest, health-gated. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContainerInfo } from '../src/providers/docker/docker-api.ts';
import { containerManifest, serviceName } from '../src/providers/docker/container-manifest.ts';
import { parseManifestText } from '../src/manifest/parse.ts';

const container = (o: { labels?: Record<string, string>; health?: string; running?: boolean; paused?: boolean; mode?: string; ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> }) =>
  ContainerInfo.parse({
    Id: 'abcdef0123456789',
    Name: '/Api_1',
    Config: { Labels: { 'dockstack.service.path': '/services/api', 'dockstack.service.port': '8080', ...o.labels } },
    State: { Running: o.running ?? true, Paused: o.paused ?? false, ...(o.health && { Health: { Status: o.health } }) },
    HostConfig: { NetworkMode: o.mode ?? 'bridge' },
    NetworkSettings: { Ports: o.ports ?? null, Networks: { bridge: { IPAddress: '172.17.0.2' } } },
  });

const spec = (c: ContainerInfo) => {
  const m = containerManifest(c);
  assert.ok(m, 'm');
  const r = parseManifestText(m.text, m.file);
  assert.deepEqual(r.errors.map((e) => e.message), []);
  const s = r.manifests[0]!.manifest;
  assert.equal(s.kind, 'Service');
  return { file: m.file, name: s.metadata.name, spec: s.kind === 'Service' ? s.spec : undefined };
};

test('labels → Service; the container name becomes the Service name and the file', () => {
  const s = spec(container({ labels: { 'dockstack.check.type': 'http', 'dockstack.check.path': '/hc' } }));
  assert.equal(s.file, 'docker://Api_1');
  assert.equal(s.name, 'api_1');
  assert.equal(s.spec?.host, '172.17.0.2');
  assert.equal(s.spec?.port, 8080);
  assert.equal(s.spec?.maintenance, false);
  assert.deepEqual(s.spec?.checks.map((c) => [c.type, 'path' in c ? c.path : undefined]), [['http', '/hc']]);
});

test('address: host label > published port > host networking (agent --host) > container IP', () => {
  assert.equal(spec(container({ labels: { 'dockstack.service.host': '10.1.1.1' } })).spec?.host, '10.1.1.1');
  const pub = spec(container({ ports: { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }] } })).spec;
  assert.deepEqual([pub?.host, pub?.port], [undefined, 32768]);
  assert.equal(spec(container({ mode: 'host' })).spec?.host, undefined);
});

test('HEALTHCHECK gates registration: only healthy or check-less running containers', () => {
  assert.equal(spec(container({ health: 'healthy' })).spec?.maintenance, false);
  assert.equal(spec(container({ health: 'starting' })).spec?.maintenance, true);
  assert.equal(spec(container({ health: 'unhealthy' })).spec?.maintenance, true);
  assert.equal(spec(container({ paused: true })).spec?.maintenance, true);
  assert.equal(containerManifest(container({ running: false })), undefined);
  const unlabelled = container({});
  delete unlabelled.Config.Labels['dockstack.service.path'];
  assert.equal(containerManifest(unlabelled), undefined);
});

test('bad labels are reported located in docker://name', () => {
  const m = containerManifest(container({ labels: { 'dockstack.service.port': 'http' } }));
  const r = parseManifestText(m!.text, m!.file);
  assert.match(r.errors[0]!.message, /^docker:\/\/Api_1:\d+:\d+ spec\.port: expected integer 1–65535, got "http"$/);
  assert.equal(serviceName('/--My.App--'), 'my.app');
});
