/** The manifests of deploy/, read as a user's `kubectl apply` would, and their test twin for a local webhook. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { ControlPlane } from './controlplane.js';

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
