/** Prometheus metrics of one app instance (a registry of its own: no global state, tests stay independent). */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export type AdmissionOutcome = 'injected' | 'allowed' | 'denied' | 'errored' | 'malformed';

export interface Metrics {
  readonly registry: Registry;
  readonly admissions: Counter<'outcome' | 'reason'>;
  readonly latency: Histogram<'outcome'>;
  readonly injectionErrors: Counter<'stage'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sidecar_destruct_webhook_' });
  return {
    registry,
    admissions: new Counter({
      name: 'sidecar_destruct_admissions_total',
      help: 'Admission reviews answered, by outcome and reason',
      labelNames: ['outcome', 'reason'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'sidecar_destruct_admission_duration_seconds',
      help: 'Time to answer an admission review',
      labelNames: ['outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    injectionErrors: new Counter({
      name: 'sidecar_destruct_injection_errors_total',
      help: 'Failures while injecting: creating the ServiceAccount or bindings, or an unexpected error',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
  };
}
