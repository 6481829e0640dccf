import { type Config, parseConfig } from '../src/pure/config.js';

/** The defaults, with dummy certificate paths: what a unit test of the pure parts needs. */
export function testConfig(extra: string[] = []): Config {
  const parsed = parseConfig(['--tls-cert-file', 'cert.pem', '--tls-key-file', 'key.pem', ...extra], {});
  if (!parsed.ok) throw new Error(parsed.error.join('; '));
  return parsed.value;
}

export function reviewOf(pod: unknown, options: { uid?: string; operation?: string; dryRun?: boolean } = {}) {
  const p = pod as { metadata?: { namespace?: string; name?: string } };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? '4c1c1c8e-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: p.metadata?.namespace ?? 'home',
      ...(p.metadata?.name ? { name: p.metadata.name } : {}),
      operation: options.operation ?? 'CREATE',
      dryRun: options.dryRun ?? false,
      object: pod,
    },
  };
}
