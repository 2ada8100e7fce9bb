import type { HealthCheckSpec } from '../manifest/schema.ts';
import type { HealthCheck } from './health-check.ts';
import { httpCheck } from './http-check.ts';
import { mysqlCheck } from './mysql-check.ts';
import { redisCheck } from './redis-check.ts';
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
      return mysqlCheck(host, port, spec);
    case 'redis':
      return redisCheck(host, port, spec);
  }
}
