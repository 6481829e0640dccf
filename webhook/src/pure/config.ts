/**
 * Every setting of the webhook, parsed once at start from flags and environment into a frozen object.
 * A bad setting is an error naming the flag, the variable and the accepted form. The README's table lists the
 * same settings with the same defaults.
 */
import {
  err,
  INSTALL_NAMESPACE,
  ok,
  type Result,
  readCommandLine,
  type SettingsTable,
  SIDECAR_ACCOUNT,
  settingsHelp,
} from '@sidecar-destruct/core';

export type SidecarMode = 'auto' | 'native' | 'container';

export interface Resources {
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  readonly cpuLimit: string;
  readonly memoryLimit: string;
}

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** The sidecar's image and pull policy. */
  readonly image: string;
  /** A ConfigMap in `namespace` whose watched `sidecarImage` replaces `image`; empty: `image` only. */
  readonly configMap: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** `auto`: native sidecar when every kubelet supports it; `native` / `container` force it. */
  readonly sidecarMode: SidecarMode;
  /** Used while `auto` cannot yet tell (no answer from the API server). */
  readonly sidecarModeFallback: Exclude<SidecarMode, 'auto'>;
  /** The dedicated account given to pods that use the `default` one. */
  readonly serviceAccountName: string;
  /** The webhook's own namespace: never injected. */
  readonly namespace: string;
  readonly resources: Resources;
  /** Largest AdmissionReview body accepted, in bytes. */
  readonly bodyLimit: number;
  /** A kubeconfig for the API client; empty: in a pod its own account, else KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig: string;
  /** How often the reconciler makes the sidecar bindings equal the grants, in milliseconds. */
  readonly reconcileIntervalMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** flag → environment variable → default; the single source of the README's settings table. */
export const SETTINGS = {
  host: { flag: 'host', env: 'HOST', default: '0.0.0.0', help: 'address to listen on' },
  port: { flag: 'port', env: 'PORT', default: '8443', help: 'HTTPS port' },
  tlsCertFile: {
    flag: 'tls-cert-file',
    env: 'TLS_CERT_FILE',
    default: '',
    help: 'serving certificate (PEM); reloaded when it changes',
  },
  tlsKeyFile: {
    flag: 'tls-key-file',
    env: 'TLS_KEY_FILE',
    default: '',
    help: 'serving key (PEM); reloaded when it changes',
  },
  image: {
    flag: 'sidecar-image',
    env: 'SIDECAR_IMAGE',
    default: 'ghcr.io/sidecar-destruct/sidecar:0.1.0',
    help: 'image of the injected sidecar',
  },
  configMap: {
    flag: 'config-map',
    env: 'CONFIG_MAP',
    default: '',
    help: "a ConfigMap in the webhook's namespace whose sidecarImage key, watched, replaces --sidecar-image as soon as it changes (deploy/ names the one the admission policy reads); the webhook is not ready before it has read it",
  },
  imagePullPolicy: {
    flag: 'sidecar-image-pull-policy',
    env: 'SIDECAR_IMAGE_PULL_POLICY',
    default: 'IfNotPresent',
    help: 'Always, IfNotPresent or Never',
  },
  sidecarMode: {
    flag: 'sidecar-mode',
    env: 'SIDECAR_MODE',
    default: 'auto',
    help: 'auto, native (restartable init container) or container',
  },
  sidecarModeFallback: {
    flag: 'sidecar-mode-fallback',
    env: 'SIDECAR_MODE_FALLBACK',
    default: 'container',
    help: 'what auto uses until the API server has answered',
  },
  serviceAccountName: {
    flag: 'service-account-name',
    env: 'SERVICE_ACCOUNT_NAME',
    default: SIDECAR_ACCOUNT,
    help: 'account given to pods that use the default one',
  },
  namespace: {
    flag: 'namespace',
    env: 'POD_NAMESPACE',
    default: INSTALL_NAMESPACE,
    help: "the webhook's own namespace (never injected)",
  },
  cpuRequest: {
    flag: 'sidecar-cpu-request',
    env: 'SIDECAR_CPU_REQUEST',
    default: '10m',
    help: "sidecar's CPU request",
  },
  memoryRequest: {
    flag: 'sidecar-memory-request',
    env: 'SIDECAR_MEMORY_REQUEST',
    default: '16Mi',
    help: "sidecar's memory request",
  },
  cpuLimit: {
    flag: 'sidecar-cpu-limit',
    env: 'SIDECAR_CPU_LIMIT',
    default: '500m',
    help: "sidecar's CPU limit",
  },
  memoryLimit: {
    flag: 'sidecar-memory-limit',
    env: 'SIDECAR_MEMORY_LIMIT',
    default: '64Mi',
    help: "sidecar's memory limit",
  },
  bodyLimit: {
    flag: 'body-limit',
    env: 'BODY_LIMIT',
    default: '6291456',
    help: 'largest AdmissionReview accepted, in bytes',
  },
  kubeconfig: {
    flag: 'kubeconfig',
    default: '',
    help: "kubeconfig for the API client; without it the pod's own account, else KUBECONFIG or ~/.kube/config",
  },
  reconcileInterval: {
    flag: 'reconcile-interval-seconds',
    env: 'RECONCILE_INTERVAL_SECONDS',
    default: '60',
    help: 'a full pass making the sidecar bindings match the grants, besides one on every watched change',
  },
  logLevel: { flag: 'log-level', env: 'LOG_LEVEL', default: 'info', help: 'debug, info, warn or error' },
} as const satisfies SettingsTable;

export const WEBHOOK_HELP = settingsHelp(
  'sidecar-destruct webhook [flags]',
  `The mutating admission webhook: injects the self-destruct sidecar into opted-in pods. HTTPS only.
Every flag can also be set through its environment variable.`,
  SETTINGS,
);

/** Flags first, then environment, then defaults; every problem is reported, naming flag and variable. */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Result<Config, string[]> {
  const line = readCommandLine(SETTINGS, argv, env);
  if (!line.ok) return err(line.error);
  if (line.value.help) return err(['--help is answered before the config is read']);
  const { read } = line.value;
  const config: Config = {
    host: read.raw('host'),
    port: read.integer('port', 1, 65_535),
    tlsCertFile: read.required('tlsCertFile'),
    tlsKeyFile: read.required('tlsKeyFile'),
    image: read.required('image'),
    configMap: read.raw('configMap'),
    imagePullPolicy: read.oneOf('imagePullPolicy', ['IfNotPresent', 'Always', 'Never'] as const),
    sidecarMode: read.oneOf('sidecarMode', ['auto', 'native', 'container'] as const),
    sidecarModeFallback: read.oneOf('sidecarModeFallback', ['container', 'native'] as const),
    serviceAccountName: read.required('serviceAccountName'),
    namespace: read.required('namespace'),
    resources: {
      cpuRequest: read.quantity('cpuRequest'),
      memoryRequest: read.quantity('memoryRequest'),
      cpuLimit: read.quantity('cpuLimit'),
      memoryLimit: read.quantity('memoryLimit'),
    },
    bodyLimit: read.integer('bodyLimit', 1_024, 64 * 1_048_576),
    kubeconfig: read.raw('kubeconfig'),
    reconcileIntervalMs: read.integer('reconcileInterval', 1, 86_400) * 1_000,
    logLevel: read.oneOf('logLevel', ['info', 'debug', 'warn', 'error'] as const),
  };
  return read.errors.length > 0 ? err(read.errors) : ok(Object.freeze(config));
}

export const wantsHelp = (argv: readonly string[]): boolean => argv.includes('--help') || argv.includes('-h');
