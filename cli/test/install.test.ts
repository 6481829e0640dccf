/**
 * `kubectl sidecar-destruct check` looks for an install by name (cli/src/kubectl/pure/install.ts); deploy/ is
 * YAML and cannot import those names, so this test holds the two to the same spelling.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { INSTALL } from '../src/kubectl/pure/install.js';

const BASE = fileURLToPath(new URL('../../deploy/base/', import.meta.url));
type Doc = {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
};
const docs: Doc[] = readdirSync(BASE)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(`${BASE}${f}`, 'utf8')).map((d) => d.toJSON() as Doc))
  .filter(Boolean);
const named = (kind: string) => docs.filter((d) => d.kind === kind).map((d) => d.metadata.name);

describe('what check looks for is what deploy/ installs', () => {
  it('names every admission policy and binding of deploy/, each binding for its policy', () => {
    expect(named('ValidatingAdmissionPolicy').sort()).toEqual(Object.keys(INSTALL.policies).sort());
    const bindings = docs.filter((d) => d.kind === 'ValidatingAdmissionPolicyBinding');
    expect(bindings.map((b) => b.metadata.name).sort()).toEqual(
      Object.values(INSTALL.policies).flat().sort(),
    );
    for (const b of bindings)
      expect(INSTALL.policies[b.spec?.policyName as string], b.metadata.name).toContain(b.metadata.name);
  });

  it('names the Service, Deployment, ConfigMap and its image key, CronJob and webhook configuration of deploy/', () => {
    expect(named('Service')).toContain(INSTALL.service);
    expect(named('Deployment')).toContain(INSTALL.deployment);
    expect(named('CronJob')).toContain(INSTALL.renewCronJob);
    expect(named('MutatingWebhookConfiguration')).toContain(INSTALL.webhookConfiguration);
    const config = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === INSTALL.configMap);
    expect(Object.keys(config?.data ?? {})).toContain(INSTALL.imageKey);
    expect(config?.metadata.namespace).toBe(INSTALL.namespace);
  });
});
