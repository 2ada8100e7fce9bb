import type { HealthCheckSpec } from '../manifest/schema.ts';
import { formatTarget, type HealthCheck } from './health-check.ts';
import { httpCheck } from './http-check.ts';
import { mysqlCheck } from './mysql-check.ts';
import { redisCheck } from './redis-check.ts';
import { withSecret } from './secret-ref.ts';
import { tcpCheck } from './tcp-check.ts';

/** Build the check a spec describes; spec.host/spec.port override the service's own address. */
export function createCheck(spec: HealthCheckSpec, defaults: { host: string; port: number }): HealthCheck {
  const host = spec.host ?? defaults.host;
  const port = spec.port ?? defaults.port;
  switch (spec.type) {
    case 'tcp':
      return tcpCheck(host, port, spec.timeoutMs);
    case 'http':
      return httpCheck(host, port, spec);
    case 'mysql':
      return spec.passwordFrom ? withSecret(spec.passwordFrom, 'mysql', formatTarget(host, port), (password) => mysqlCheck(host, port, { ...spec, password })) : mysqlCheck(host, port, spec);
    case 'redis':
      return spec.passwordFrom ? withSecret(spec.passwordFrom, 'redis', formatTarget(host, port), (password) => redisCheck(host, port, { ...spec, password })) : redisCheck(host, port, spec);
  }
}
