/** The settings of `sidecar-destruct certs`, one table: flags, their variables, defaults and help. */
import { INSTALL_NAMESPACE, type SettingReader, settingsHelp } from '@sidecar-destruct/core';
import type { CertsOptions } from './bootstrap.js';

export const CERTS_SETTINGS = {
  namespace: {
    flag: 'namespace',
    env: 'POD_NAMESPACE',
    default: INSTALL_NAMESPACE,
    help: "the webhook's namespace",
  },
  service: { flag: 'service', default: 'sidecar-destruct-webhook', help: "the webhook's Service" },
  secret: {
    flag: 'secret',
    default: 'sidecar-destruct-webhook-tls',
    help: 'the serving certificate Secret, kubernetes.io/tls',
  },
  caSecret: {
    flag: 'ca-secret',
    default: 'sidecar-destruct-ca',
    help: "the CA's Secret, read by this command only",
  },
  webhookConfiguration: {
    flag: 'webhook-configuration',
    default: 'sidecar-destruct',
    help: 'the MutatingWebhookConfiguration',
  },
  validityDays: { flag: 'validity-days', default: '365', help: 'serving certificate lifetime, in days' },
  caValidityDays: { flag: 'ca-validity-days', default: '3650', help: 'CA lifetime, in days' },
  renewBeforeDays: {
    flag: 'renew-before-days',
    default: '30',
    help: 'renew what expires within this many days',
  },
  outDir: { flag: 'out-dir', default: '', help: 'also write ca.crt, tls.crt and tls.key (0600) there' },
  kubeconfig: {
    flag: 'kubeconfig',
    default: '',
    help: 'the cluster to use; without it $KUBECONFIG, ~/.kube/config, or in-cluster',
  },
} as const;

export const CERTS_HELP = settingsHelp(
  'sidecar-destruct certs [flags]',
  `Creates or renews the webhook's certificates and registers the CA with the API server. A run on a healthy
install changes nothing. Runs in the cluster (as the Job in deploy/) or with the current kubeconfig.
Exit status: 0 done (or nothing to do), 1 failed, 2 bad flags.`,
  CERTS_SETTINGS,
);

const MAX_DAYS = 36_500;

/** The options from flags, variables and defaults; problems are left in `read.errors`. */
export function certsOptions(read: SettingReader<typeof CERTS_SETTINGS>): CertsOptions {
  const outDir = read.optional('outDir');
  const kubeconfig = read.optional('kubeconfig');
  const options: CertsOptions = {
    namespace: read.required('namespace'),
    service: read.required('service'),
    secret: read.required('secret'),
    caSecret: read.required('caSecret'),
    webhookConfiguration: read.required('webhookConfiguration'),
    validityDays: read.integer('validityDays', 1, MAX_DAYS),
    caValidityDays: read.integer('caValidityDays', 1, MAX_DAYS),
    renewBeforeDays: read.integer('renewBeforeDays', 0, MAX_DAYS),
    ...(outDir ? { outDir } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
  };
  if (options.renewBeforeDays >= options.validityDays)
    read.problem('--renew-before-days must be less than --validity-days, or every run would renew');
  return options;
}
