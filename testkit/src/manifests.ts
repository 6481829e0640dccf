/** The manifests of deploy/, read as a user's `kubectl apply` would, and their test twin for a local webhook. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { ControlPlane } from './controlplane.js';
import { until } from './until.js';

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: manifests are arbitrary Kubernetes objects
export type Manifest = Record<string, any>;

export async function readManifests(relative: string): Promise<Manifest[]> {
  const text = await readFile(`${DEPLOY_DIR}${relative}`, 'utf8');
  const documents = parseAllDocuments(text);
  const broken = documents.find((d) => d.errors.length > 0);
  if (broken) throw new Error(`${relative}: ${broken.errors[0]?.message}`);
  return documents.map((d) => d.toJS() as Manifest).filter((m) => m !== null);
}

export async function apply(cp: ControlPlane, manifests: readonly Manifest[]): Promise<void> {
  await cp.kubectl(
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    manifests.map((m) => JSON.stringify(m)).join('\n'),
  );
}

const PROBE = 'sidecar-destruct-policy-barrier';

/**
 * Resolves once the API server enforces every ValidatingAdmissionPolicy created before the call. It does not as
 * soon as the create returns: it compiles policies in a loop of its own (about once a second, later on a loaded
 * machine), and a request meanwhile is admitted unchecked. A probe policy created now, refusing one ConfigMap name,
 * is compiled in the same pass as or after those before it; once it refuses, they are in force. Then it goes.
 */
export async function policiesInForce(cp: ControlPlane, timeoutMs = 60_000): Promise<void> {
  const meta = { name: PROBE, labels: { 'app.kubernetes.io/name': 'sidecar-destruct-test' } };
  await apply(cp, [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: meta,
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] },
          ],
        },
        validations: [
          { expression: `object.metadata.name != "${PROBE}"`, message: 'barrier', reason: 'Forbidden' },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: meta,
      spec: { policyName: PROBE, validationActions: ['Deny'] },
    },
  ]);
  await until(
    'the API server to enforce a new policy',
    async () => {
      const reply = await cp.rest('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: PROBE },
      });
      if (reply.status !== 403 && reply.status !== 201) {
        throw new Error(`the policy barrier's probe: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
      }
      return reply.status === 403 ? true : undefined;
    },
    timeoutMs,
    100,
  );
  await cp.rest('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${PROBE}`);
  await cp.rest('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${PROBE}`);
}

/** The MutatingWebhookConfiguration of deploy/, pointed at a webhook on this machine instead of the Service. */
export function localWebhookConfiguration(configuration: Manifest, url: string, caPem: string): Manifest {
  return {
    ...configuration,
    webhooks: configuration.webhooks.map((w: Manifest) => ({
      ...w,
      clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') },
    })),
  };
}
