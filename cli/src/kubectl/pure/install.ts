/**
 * What an install from deploy/ consists of, by name: what `check` looks for. cli/test/install.test.ts
 * holds these names to deploy/base, which cannot import them.
 */
import { CERTS_SETTINGS } from '@sidecar-destruct/certs/options';
import { INSTALL_NAMESPACE } from '@sidecar-destruct/core';

export const INSTALL = Object.freeze({
  namespace: INSTALL_NAMESPACE,
  service: CERTS_SETTINGS.service.default,
  deployment: 'sidecar-destruct-webhook',
  servingSecret: CERTS_SETTINGS.secret.default,
  configMap: 'sidecar-destruct-config',
  /** The ConfigMap key naming the sidecar image (the webhook watches it; a policy reads it). */
  imageKey: 'sidecarImage',
  renewCronJob: 'sidecar-destruct-certs-renew',
  webhookConfiguration: CERTS_SETTINGS.webhookConfiguration.default,
  /** Each ValidatingAdmissionPolicy with the bindings deploy/ gives it. */
  policies: Object.freeze({
    'sidecar-destruct-require-injection': [
      'sidecar-destruct-require-injection',
      'sidecar-destruct-require-injection-pod',
    ],
    'sidecar-destruct-own-pod-only': ['sidecar-destruct-own-pod-only'],
    'sidecar-destruct-webhook-writes': ['sidecar-destruct-webhook-writes'],
    'sidecar-destruct-grant': ['sidecar-destruct-grant'],
  } as Readonly<Record<string, readonly string[]>>),
  /** The certificate Job renews what expires within this many days (`certs --renew-before-days`). */
  renewBeforeDays: Number(CERTS_SETTINGS.renewBeforeDays.default),
});
