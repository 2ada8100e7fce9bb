/**
 * Health-check metrics: wraps the check factory so every run of a Service's check is timed and
 * counted (pass/fail) under the Service's name. Runs aborted by a stop say nothing about the
 * target and are not counted as failures.
 */
import { createCheck } from '../health/create-check.ts';
import type { HealthCheck } from '../health/health-check.ts';
import type { HealthCheckSpec } from '../manifest/schema.ts';
import type { AgentMetrics } from './metrics.ts';

export type CheckFactory = (spec: HealthCheckSpec, defaults: { host: string; port: number }) => HealthCheck;

/** A check factory for Service `service` that reports into `metrics`. */
export function instrumentedChecks(metrics: AgentMetrics, service: string, make: CheckFactory = createCheck): CheckFactory {
  return (spec, defaults) => {
    const inner = make(spec, defaults);
    return {
      type: inner.type,
      target: inner.target,
      async check(signal: AbortSignal): Promise<void> {
        const labels = { service, type: inner.type };
        const end = metrics.checkSeconds.startTimer(labels);
        try {
          await inner.check(signal);
          metrics.checkResults.inc({ ...labels, result: 'pass' });
        } catch (err) {
          if (!signal.aborted) metrics.checkResults.inc({ ...labels, result: 'fail' });
          throw err;
        } finally {
          end();
        }
      },
    };
  };
}
