/**
 * A labelled container → the Service manifest text that registers it (pure; unit-tested on plain
 * objects). Labels:
 *   dockstack.service.path (required; marks the container), dockstack.service.port (required),
 *   dockstack.service.name (default: the container name), dockstack.service.host, .weight,
 *   dockstack.check.type (tcp|http|mysql|redis), dockstack.check.path, .port, .user, .interval-ms
 * Invalid label values are passed through, so validation reports them located in `docker://name`.
 * The container's own HEALTHCHECK gates registration: only running, unpaused and healthy (or
 * HEALTHCHECK-less) containers are registered; the others keep their Service in maintenance.
 */
import { manifestsYaml } from '../manifest-docs.ts';
import { API_VERSION } from '../../manifest/schema.ts';
import type { ContainerInfo } from './docker-api.ts';

export const LABEL_PATH = 'dockstack.service.path';
const L = 'dockstack.service.';
const C = 'dockstack.check.';

/** Where the Service came from, and why it is (not) registered. */
export interface ContainerManifest {
  readonly file: string;
  readonly text: string;
  /** running | healthy | starting | unhealthy | paused */
  readonly state: string;
}

/** undefined: not ours (no path label) or not running, i.e. nothing to register. */
export function containerManifest(c: ContainerInfo): ContainerManifest | undefined {
  const labels = c.Config.Labels;
  if (labels[LABEL_PATH] === undefined || !c.State.Running || c.State.Restarting) return undefined;
  const cname = c.Name.replace(/^\//, '');
  const health = c.State.Health?.Status;
  const state = c.State.Paused ? 'paused' : health && health !== 'none' ? health : 'running';
  const port = num(labels[`${L}port`]);
  const check = labels[`${C}type`];
  const spec = {
    path: labels[LABEL_PATH],
    ...address(c, labels[`${L}host`], port),
    ...(labels[`${L}weight`] !== undefined && { weight: num(labels[`${L}weight`]) }),
    ...(check !== undefined && {
      checks: [
        {
          type: check,
          ...(labels[`${C}path`] !== undefined && { path: labels[`${C}path`] }),
          ...(labels[`${C}port`] !== undefined && { port: num(labels[`${C}port`]) }),
          ...(labels[`${C}user`] !== undefined && { user: labels[`${C}user`] }),
          ...(labels[`${C}interval-ms`] !== undefined && { intervalMs: num(labels[`${C}interval-ms`]) }),
        },
      ],
    }),
    maintenance: state !== 'running' && state !== 'healthy',
  };
  const doc = {
    apiVersion: API_VERSION,
    kind: 'Service',
    metadata: {
      name: labels[`${L}name`] ?? serviceName(cname),
      annotations: { 'dockstack.io/container-id': c.Id.slice(0, 12), 'dockstack.io/container-state': state },
    },
    spec,
  };
  return { file: `docker://${cname}`, text: manifestsYaml([doc]), state };
}

/** Container names allow capitals and more; Service names are DNS-label-like. */
export function serviceName(containerName: string): string {
  return containerName.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 63) || 'container';
}

const num = (v: string | undefined): number | string | undefined => (v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : v);

// host label > published port (host network address is the agent's --host) > host networking
// (the agent's --host) > the container's own IP.
function address(c: ContainerInfo, hostLabel: string | undefined, port: number | string | undefined): { host?: string; port?: number | string } {
  if (hostLabel !== undefined) return { host: hostLabel, port };
  const ns = c.NetworkSettings;
  const published = typeof port === 'number' ? ns?.Ports[`${port}/tcp`]?.find((p) => p.HostPort) : undefined;
  if (published) {
    const wildcard = ['', '0.0.0.0', '::'].includes(published.HostIp);
    return { ...(!wildcard && { host: published.HostIp }), port: Number(published.HostPort) };
  }
  if (c.HostConfig?.NetworkMode === 'host') return { port };
  const ip = Object.values(ns?.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress;
  return { ...(ip && { host: ip }), port };
}
