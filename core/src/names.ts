/**
 * The contract, in one place: the labels and annotations users write, and the names the webhook, the sidecar,
 * the admission policies and RBAC in deploy/ share (test/unit/names.test.ts checks deploy/ against them). They
 * are part of the product (README, docs/architecture.md); keep them stable.
 */
const PREFIX = 'sidecar-destruct.io';

/** The Kubernetes minor versions the project is tested on, oldest and newest (testkit/controlplane/versions). */
export const TESTED_KUBERNETES = Object.freeze({ oldest: [1, 34], newest: [1, 37] } as const);

/** The namespace deploy/ installs the webhook, its Service and its ConfigMap in. */
export const INSTALL_NAMESPACE = 'sidecar-destruct-system';

export const NAMESPACE_INJECTION_LABEL = `${PREFIX}/injection`;
export const NAMESPACE_INJECTION_ENABLED = 'enabled';
export const POD_INJECT_LABEL = `${PREFIX}/inject`;

export const SELECTOR_ANNOTATION = `${PREFIX}/selector`;
export const GRACE_PERIOD_ANNOTATION = `${PREFIX}/grace-period`;
export const NFD_OUTAGE_GRACE_PERIOD_ANNOTATION = `${PREFIX}/nfd-outage-grace-period`;
export const ACTION_ANNOTATION = `${PREFIX}/action`;
export const DRY_RUN_ANNOTATION = `${PREFIX}/dry-run`;
export const STATUS_ANNOTATION = `${PREFIX}/status`;
export const STATUS_INJECTED = 'injected';
export const STATUS_NOTHING_TO_ENFORCE = 'nothing-to-enforce';

/** Event reasons the sidecar records on its pod (`kubectl describe pod` shows them). */
export const EVENT_REASON = 'NodeConstraintLost';
export const EVENT_REASON_BLOCKED = 'EvictionBlocked';
/** The API refused the sidecar's delete or eviction outright (403): its account lacks the sidecar role. */
export const EVENT_REASON_FORBIDDEN = 'SelfDestructForbidden';

/** The injected container, and the volume with its own token. */
export const SIDECAR_CONTAINER = 'sidecar-destruct';
export const TOKEN_VOLUME = 'sidecar-destruct-token';
/** Where the webhook mounts that token, and the sidecar reads it (with ca.crt and namespace): Kubernetes' own path. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The dedicated ServiceAccount a pod on `default` is switched to. */
export const SIDECAR_ACCOUNT = 'sidecar-destruct';
/** The ClusterRoles an account needs to run the sidecar: own-pod delete/evict and Events, and Node get/watch. */
export const SIDECAR_CLUSTER_ROLE = 'sidecar-destruct-sidecar';
export const NODE_READER_CLUSTER_ROLE = 'sidecar-destruct-node-reader';
/** The ServiceAccount label (`granted`) by which someone with rights over an account grants it the sidecar roles. */
export const GRANT_LABEL = `${PREFIX}/sidecar-roles`;
export const GRANT_VALUE = 'granted';

/** The command a user with rights on the account runs to grant it the roles (said in warnings, Events and logs). */
export const grantCommand = (account: { readonly namespace: string; readonly name: string }): string =>
  `kubectl label serviceaccount ${account.name} -n ${account.namespace} ${GRANT_LABEL}=${GRANT_VALUE}`;
