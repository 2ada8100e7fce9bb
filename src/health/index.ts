/** Health checks: one check per spec (createCheck) and a service's rise/fall-ANDed health (ServiceHealth). */
export { CheckFailed } from './check-failed.ts';
export type { CheckStatus, Timers } from './check-loop.ts';
export { createCheck } from './create-check.ts';
export { formatTarget, type HealthCheck } from './health-check.ts';
export { ServiceHealth, type ServiceHealthOptions } from './service-health.ts';
