/**
 * The mutation, as a pure function: a copy of the pod with the sidecar added. Nothing the pod had is changed,
 * except its ServiceAccount when it used the `default` one (docs/architecture.md, "The security model"), which is reported as a
 * warning.
 */
import type { V1Container, V1Pod, V1PodSpec, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import {
  type Rule,
  SERVICE_ACCOUNT_DIR,
  type Settings,
  SIDECAR_CONTAINER,
  STATUS_ANNOTATION,
  STATUS_INJECTED,
  STATUS_NOTHING_TO_ENFORCE,
  sidecarEnv,
  TOKEN_VOLUME,
} from '@sidecar-destruct/core';
import type { Resources } from './config.js';

/** The uid/gid of the image's unprivileged user (`nonroot` in the /etc/passwd that images/build.sh writes). */
const SIDECAR_UID = 65532;

export interface InjectOptions {
  readonly image: string;
  readonly imagePullPolicy: string;
  /** `native`: a restartable init container, first of all; `container`: appended to the containers. */
  readonly mode: 'native' | 'container';
  readonly serviceAccountName: string;
  readonly resources: Resources;
}

export interface Injected {
  readonly pod: V1Pod;
  /** The account the sidecar runs as, which must be bound to the sidecar's roles. */
  readonly serviceAccountName: string;
  readonly warnings: readonly string[];
}

function sidecar(
  rule: Rule,
  settings: Settings,
  options: InjectOptions,
  mounts: V1VolumeMount[],
): V1Container {
  const container: V1Container = {
    name: SIDECAR_CONTAINER,
    image: options.image,
    imagePullPolicy: options.imagePullPolicy,
    env: sidecarEnv(rule, settings),
    resources: {
      requests: { cpu: options.resources.cpuRequest, memory: options.resources.memoryRequest },
      limits: { cpu: options.resources.cpuLimit, memory: options.resources.memoryLimit },
    },
    // Pod Security Standards "restricted", and a read-only root filesystem.
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR_UID,
      runAsGroup: SIDECAR_UID,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  container.volumeMounts = mounts;
  if (options.mode === 'native') container.restartPolicy = 'Always';
  return container;
}

/** The token, CA and namespace a ServiceAccount volume would hold, for the sidecar alone. */
const tokenVolume: V1Volume = {
  name: TOKEN_VOLUME,
  projected: {
    defaultMode: 0o444,
    sources: [
      { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      {
        downwardAPI: {
          items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
        },
      },
    ],
  },
};

export function inject(original: V1Pod, rule: Rule, settings: Settings, options: InjectOptions): Injected {
  // A new pod that shares every untouched part with the original: nothing of the original is mutated, and
  // copying only the changed path keeps admission cheap (a structuredClone of the whole pod would be the largest
  // cost of a review, as bench/ measures it).
  const warnings: string[] = [];
  const spec: V1PodSpec = { ...(original.spec ?? { containers: [] }) };
  const pod: V1Pod = {
    ...original,
    metadata: {
      ...original.metadata,
      annotations: { ...original.metadata?.annotations, [STATUS_ANNOTATION]: STATUS_INJECTED },
    },
    spec,
  };

  // `serviceAccount` is the deprecated alias the API server still fills in; both name the same account.
  const current = spec.serviceAccountName || spec.serviceAccount || 'default';
  let serviceAccountName = current;
  if (current === 'default') {
    serviceAccountName = options.serviceAccountName;
    spec.serviceAccountName = serviceAccountName;
    if (spec.serviceAccount) spec.serviceAccount = serviceAccountName;
    // The truth, as the README's security model says it: every container of a pod shares its account.
    warnings.push(
      `sidecar-destruct: the pod now runs as ServiceAccount "${serviceAccountName}" instead of "default": all its containers get that token (read every Node, create Events, delete or evict this pod only) and lose what "default" was granted`,
    );
  }

  // The sidecar always brings its own token volume. The ServiceAccount admission plugin mounts the pod's token
  // into the containers that exist when it runs, which is before this webhook; and a pod may have turned
  // automounting off. Either way the sidecar alone gets the token, the CA and the namespace.
  // A container or volume of the pod under the sidecar's names is replaced, never kept beside it: injecting an
  // injected pod again adds nothing, and a look-alike container brought by the pod does not pass for the sidecar.
  spec.volumes = [...without(spec.volumes, TOKEN_VOLUME), structuredClone(tokenVolume)];
  const mounts: V1VolumeMount[] = [{ name: TOKEN_VOLUME, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true }];

  const container = sidecar(rule, settings, options, mounts);
  const initContainers = spec.initContainers && without(spec.initContainers, SIDECAR_CONTAINER);
  const containers = without(spec.containers, SIDECAR_CONTAINER);
  if (options.mode === 'native') {
    spec.initContainers = [container, ...(initContainers ?? [])];
    spec.containers = containers;
  } else {
    if (initContainers) spec.initContainers = initContainers;
    spec.containers = [...containers, container];
  }
  return { pod, serviceAccountName, warnings };
}

const without = <T extends { name: string }>(items: readonly T[] | undefined, name: string): T[] =>
  (items ?? []).filter((item) => item.name !== name);

/** Marks a pod that has nothing to enforce, so that re-invocation and the admission policy know it was seen. */
export function markNothingToEnforce(original: V1Pod): V1Pod {
  return {
    ...original,
    metadata: {
      ...original.metadata,
      annotations: { ...original.metadata?.annotations, [STATUS_ANNOTATION]: STATUS_NOTHING_TO_ENFORCE },
    },
  };
}
