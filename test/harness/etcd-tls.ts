/**
 * A real etcd 3.4 serving clients over TLS on a loopback port, with a CA, a server certificate for
 * 127.0.0.1 and a client certificate made by `openssl` in its temp dir. `clientCertAuth` makes etcd
 * refuse clients without a certificate of that CA. stop() kills it and removes the dir.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loopback } from './net-host.ts';
import { startRestartable, waitReady } from './process.ts';

export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** A CA etcd does not trust, and a client certificate it signed. */
  readonly otherCa: string;
  readonly otherCert: string;
  readonly otherKey: string;
}

export interface TlsEtcdServer {
  /** "127.0.0.1:port" */
  readonly endpoint: string;
  /** Client-side files: the CA that signed etcd's certificate, a client certificate and its key. */
  readonly files: TlsFiles;
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function makeCa(dir: string, name: string): Promise<void> {
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)]);
}

async function makeCert(dir: string, ca: string, name: string, ext: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), ext);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`)]);
  await run('openssl', ['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, `${ca}.crt`), '-CAkey', join(dir, `${ca}.key`), '-CAcreateserial', '-days', '2', '-extfile', join(dir, `${name}.ext`), '-out', join(dir, `${name}.crt`)]);
}

/** Generate the certificates, start etcd with them, wait (bounded) until /health answers over TLS. */
export async function startTlsEtcd(opts: { clientCertAuth?: boolean } = {}): Promise<TlsEtcdServer> {
  const root = await mkdtemp(join(tmpdir(), 'dockstack-etcd-tls-'));
  await makeCa(root, 'ca');
  await makeCa(root, 'other-ca');
  await makeCert(root, 'ca', 'server', 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  await makeCert(root, 'ca', 'client', 'extendedKeyUsage = clientAuth\n');
  await makeCert(root, 'other-ca', 'other-client', 'extendedKeyUsage = clientAuth\n');
  const files: TlsFiles = {
    ca: join(root, 'ca.crt'), cert: join(root, 'client.crt'), key: join(root, 'client.key'),
    otherCa: join(root, 'other-ca.crt'), otherCert: join(root, 'other-client.crt'), otherKey: join(root, 'other-client.key'),
  };
  const port = await loopback.port();
  const peerPort = await loopback.port();
  const client = `https://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const server = await startRestartable(
    root,
    () => loopback.spawn('etcd', [
      '--name', 'tls', '--data-dir', join(root, 'data'), '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `tls=${peer}`,
      '--cert-file', join(root, 'server.crt'), '--key-file', join(root, 'server.key'), '--trusted-ca-file', files.ca,
      ...(opts.clientCertAuth ? ['--client-cert-auth'] : []),
      '--logger', 'zap', '--log-outputs', join(root, 'etcd.log'),
    ]),
    (proc) => waitReady(`etcd (TLS) on ${port}`, () => healthy(port, files), { proc, hint: `see ${root}/etcd.log` }),
  );
  return { endpoint: `127.0.0.1:${port}`, files, stop: server.stop };
}

async function healthy(port: number, files: TlsFiles): Promise<boolean> {
  const [ca, cert, key] = await Promise.all([readFile(files.ca), readFile(files.cert), readFile(files.key)]);
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', ca, cert, key, timeout: 500 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(/"health":"true"/.test(body)));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
