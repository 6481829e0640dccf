/**
 * `sidecar-destruct certs`: creates or renews the webhook's CA and serving certificate, stores them in Secrets and
 * puts the CA into the MutatingWebhookConfiguration's caBundle. Idempotent; runs as a Job in the cluster or from
 * a laptop with the current kubeconfig.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Secret,
} from '@kubernetes/client-node';
import {
  createCertificateAuthority,
  createServingCertificate,
  type KeyPair,
  serviceDnsNames,
} from './pki.js';
import { caBundle, type Existing, plan, type Step } from './plan.js';

export interface CertsOptions {
  readonly namespace: string;
  readonly service: string;
  readonly secret: string;
  readonly caSecret: string;
  readonly webhookConfiguration: string;
  readonly validityDays: number;
  readonly caValidityDays: number;
  readonly renewBeforeDays: number;
  readonly outDir?: string;
  readonly kubeconfig?: string;
}

export interface Report {
  readonly steps: readonly Step[];
}

const text = (secret: V1Secret | undefined, key: string): string | undefined => {
  const data = secret?.data?.[key];
  return data ? Buffer.from(data, 'base64').toString('utf8') : undefined;
};
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Turns an API failure into the sentence a user can act on. */
function explainFailure(e: unknown, what: string): Error {
  if (e instanceof ApiException) {
    if (e.code === 403)
      return new Error(`no permission to ${what} (HTTP 403); check the RBAC of the account running this`);
    if (e.code === 404) return new Error(`cannot ${what}: not found (HTTP 404)`);
    return new Error(`cannot ${what}: HTTP ${e.code}`);
  }
  return new Error(`cannot ${what}: ${(e as Error).message}`);
}

async function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (e) {
    if (e instanceof ApiException && e.code === 404) return undefined;
    throw explainFailure(e, `read Secret ${namespace}/${name}`);
  }
}

async function writeSecret(core: CoreV1Api, existing: V1Secret | undefined, secret: V1Secret): Promise<void> {
  const { namespace = '', name = '' } = secret.metadata ?? {};
  try {
    if (existing) {
      await core.replaceNamespacedSecret({
        name,
        namespace,
        body: {
          ...secret,
          metadata: { ...secret.metadata, resourceVersion: existing.metadata?.resourceVersion },
        },
      });
    } else {
      await core.createNamespacedSecret({ namespace, body: secret });
    }
  } catch (e) {
    throw explainFailure(e, `write Secret ${namespace}/${name}`);
  }
}

type WebhookConfiguration = Awaited<
  ReturnType<AdmissionregistrationV1Api['readMutatingWebhookConfiguration']>
>;
type SecretOrNone = Awaited<ReturnType<typeof readSecret>>;

/** What is installed: the namespace must exist and the webhook configuration too (deploy/ applied first). */
async function readInstalled(
  core: CoreV1Api,
  admission: AdmissionregistrationV1Api,
  options: CertsOptions,
): Promise<WebhookConfiguration> {
  try {
    await core.readNamespace({ name: options.namespace });
  } catch (e) {
    throw explainFailure(e, `find namespace ${options.namespace}`);
  }
  try {
    return await admission.readMutatingWebhookConfiguration({ name: options.webhookConfiguration });
  } catch (e) {
    throw explainFailure(
      e,
      `read MutatingWebhookConfiguration ${options.webhookConfiguration} (apply deploy/ first)`,
    );
  }
}

/** The certificates the Secrets hold and the caBundles the webhook configuration carries, as plan() reads them. */
function existingOf(
  caSecret: SecretOrNone,
  servingSecret: SecretOrNone,
  configuration: WebhookConfiguration,
): Existing {
  const caCert = text(caSecret, 'tls.crt');
  const caKey = text(caSecret, 'tls.key');
  const servingCert = text(servingSecret, 'tls.crt');
  const servingKey = text(servingSecret, 'tls.key');
  return {
    ...(caCert && caKey ? { ca: { certPem: caCert, keyPem: caKey } } : {}),
    ...(servingCert && servingKey ? { serving: { certPem: servingCert, keyPem: servingKey } } : {}),
    caBundles: (configuration.webhooks ?? []).map((w) =>
      w.clientConfig.caBundle ? Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8') : '',
    ),
  };
}

const LABELS = { 'app.kubernetes.io/name': 'sidecar-destruct' };

const tlsSecret = (name: string, namespace: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'kubernetes.io/tls',
  metadata: { name, namespace, labels: LABELS },
  data,
});

/** Writes `bundle` into every webhook of the configuration. */
async function patchCaBundle(
  admission: AdmissionregistrationV1Api,
  options: CertsOptions,
  configuration: WebhookConfiguration,
  bundle: string,
): Promise<void> {
  // A strategic merge patch keyed by each webhook's name (its merge key): no index paths, so a webhook added
  // or reordered between the read and this write cannot receive another one's caBundle.
  const patch = {
    webhooks: (configuration.webhooks ?? []).map((w) => ({
      name: w.name,
      clientConfig: { caBundle: bundle },
    })),
  };
  try {
    await admission.patchMutatingWebhookConfiguration(
      { name: options.webhookConfiguration, body: patch },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  } catch (e) {
    throw explainFailure(
      e,
      `patch the caBundle of MutatingWebhookConfiguration ${options.webhookConfiguration}`,
    );
  }
}

async function writeFiles(outDir: string, ca: KeyPair, serving: KeyPair): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'ca.crt'), ca.certPem);
  await writeFile(join(outDir, 'tls.crt'), serving.certPem);
  await writeFile(join(outDir, 'tls.key'), serving.keyPem, { mode: 0o600 });
}

export async function ensureCertificates(
  options: CertsOptions,
  kubeConfig: KubeConfig,
  now = new Date(),
): Promise<Report> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const configuration = await readInstalled(core, admission, options);
  const caSecret = await readSecret(core, options.namespace, options.caSecret);
  const servingSecret = await readSecret(core, options.namespace, options.secret);
  const existing = existingOf(caSecret, servingSecret, configuration);
  const dnsNames = serviceDnsNames(options.service, options.namespace);
  const steps = plan(existing, { now, dnsNames, renewBeforeDays: options.renewBeforeDays });

  let ca: KeyPair | undefined = existing.ca;
  let serving: KeyPair | undefined = existing.serving;
  for (const step of steps) {
    if (step.kind === 'create-ca') {
      ca = createCertificateAuthority('sidecar-destruct webhook CA', {
        validityDays: options.caValidityDays,
        now,
      });
      const data = { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem) };
      await writeSecret(core, caSecret, tlsSecret(options.caSecret, options.namespace, data));
    } else if (step.kind === 'issue-serving' && ca) {
      serving = createServingCertificate(ca, { dnsNames, validityDays: options.validityDays, now });
      const data = {
        'tls.crt': b64(serving.certPem),
        'tls.key': b64(serving.keyPem),
        'ca.crt': b64(ca.certPem),
      };
      await writeSecret(core, servingSecret, tlsSecret(options.secret, options.namespace, data));
    } else if (step.kind === 'patch-ca-bundle' && ca) {
      await patchCaBundle(
        admission,
        options,
        configuration,
        b64(caBundle(ca.certPem, existing.ca?.certPem, now)),
      );
    }
  }
  if (options.outDir && ca && serving) await writeFiles(options.outDir, ca, serving);
  return { steps };
}
