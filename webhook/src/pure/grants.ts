/**
 * Who holds the sidecar's roles, as a pure function of cluster state that only someone with rights can set
 * (docs/architecture.md, "The security model"): never of what a pod, or an AdmissionReview, merely names.
 * - the dedicated account of a namespace labelled `sidecar-destruct.io/injection=enabled` (namespace admins);
 * - any ServiceAccount labelled `sidecar-destruct.io/sidecar-roles=granted` (who may update that account).
 * Both the admission path (for the pod's account, at once) and the reconciler (for every account, plus the
 * clean-up) decide from here.
 */
import {
  GRANT_LABEL,
  GRANT_VALUE,
  grantCommand,
  NAMESPACE_INJECTION_ENABLED,
  NAMESPACE_INJECTION_LABEL,
} from '@sidecar-destruct/core';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'sidecar-destruct-webhook';
export const MANAGED_LABELS: Readonly<Record<string, string>> = Object.freeze({
  'app.kubernetes.io/name': 'sidecar-destruct',
  [MANAGED_BY_LABEL]: MANAGED_BY,
});

/** The selectors the webhook lists and watches by: one spelling each, for view.ts and reconcile.ts. */
export const SELECTORS = Object.freeze({
  /** Namespaces labelled for injection. */
  enabledNamespaces: `${NAMESPACE_INJECTION_LABEL}=${NAMESPACE_INJECTION_ENABLED}`,
  /** ServiceAccounts labelled granted. */
  grantedAccounts: `${GRANT_LABEL}=${GRANT_VALUE}`,
  /** The bindings the webhook made. */
  managedBindings: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
  /** The dedicated accounts of every namespace (a field selector). */
  dedicatedAccounts: (name: string): string => `metadata.name=${name}`,
});

export interface Account {
  readonly namespace: string;
  readonly name: string;
}

export const accountKey = (a: Account): string => `${a.namespace}/${a.name}`;

/** Names of the bindings for one account; a ClusterRoleBinding name must be unique cluster-wide. */
export const bindingNames = (account: Account) => ({
  roleBinding: `sidecar-destruct:${account.name}`,
  clusterRoleBinding: `sidecar-destruct:${account.namespace}:${account.name}`,
});

/** kube-* and the webhook's own namespace never get an account or a binding (the write fence says the same). */
export const isExcludedNamespace = (namespace: string, ownNamespace: string): boolean =>
  namespace.startsWith('kube-') || namespace === ownNamespace;

export const namespaceEnabled = (labels: Readonly<Record<string, string>> | undefined): boolean =>
  labels?.[NAMESPACE_INJECTION_LABEL] === NAMESPACE_INJECTION_ENABLED;

export const accountGranted = (labels: Readonly<Record<string, string>> | undefined): boolean =>
  labels?.[GRANT_LABEL] === GRANT_VALUE;

export interface GrantFacts {
  /** The account is the dedicated one (the webhook's `--service-account-name`). */
  readonly dedicated: boolean;
  /** Its namespace is labelled for injection (read from the API server). */
  readonly namespaceEnabled: boolean;
  /** The account carries the grant label (read from the API server). */
  readonly accountGranted: boolean;
}

/** The one rule: the dedicated account of an enabled namespace, or an account its admin labelled granted. */
export const holdsSidecarRoles = (facts: GrantFacts): boolean =>
  facts.accountGranted || (facts.dedicated && facts.namespaceEnabled);

/** The admission warning for a pod whose account does not hold the roles: what it means, and the exact fix. */
export function notGrantedWarning(account: Account, dedicated: boolean): string {
  const why = dedicated
    ? `its namespace is not labelled ${NAMESPACE_INJECTION_LABEL}=${NAMESPACE_INJECTION_ENABLED}`
    : 'the pod named it, which grants nothing';
  return `sidecar-destruct: ServiceAccount "${account.name}" does not hold the sidecar roles (${why}), so the sidecar cannot delete this pod; to grant them, confining the account to its own pod: ${grantCommand(account)}`;
}

/** A binding the webhook made, as listed from the API server. */
export interface ManagedBinding {
  readonly kind: 'RoleBinding' | 'ClusterRoleBinding';
  readonly name: string;
  /** The RoleBinding's namespace; absent for a ClusterRoleBinding. */
  readonly namespace?: string;
  readonly uid: string;
  /** Its single ServiceAccount subject; absent when it has another shape (then it is deleted). */
  readonly subject?: Account;
}

export interface ClusterState {
  /** Namespaces labelled for injection. */
  readonly enabledNamespaces: ReadonlySet<string>;
  /** Every ServiceAccount with the dedicated name (`namespace/name` keys). */
  readonly dedicatedAccounts: readonly Account[];
  /** Every ServiceAccount labelled granted. */
  readonly grantedAccounts: readonly Account[];
  /** Every binding labelled as the webhook's. */
  readonly bindings: readonly ManagedBinding[];
}

export interface Plan {
  /** Accounts that hold the roles by the rule but miss a binding. */
  readonly bind: readonly Account[];
  /** Bindings whose account no longer holds the roles by the rule (grant removed, namespace deleted). */
  readonly remove: readonly ManagedBinding[];
}

/** What the reconciler must create and delete to make the bindings equal the rule; a pure function. */
export function plan(state: ClusterState, ownNamespace: string): Plan {
  const desired = new Map<string, Account>();
  for (const a of state.grantedAccounts) desired.set(accountKey(a), a);
  for (const a of state.dedicatedAccounts) {
    if (state.enabledNamespaces.has(a.namespace)) desired.set(accountKey(a), a);
  }
  for (const [key, a] of desired) if (isExcludedNamespace(a.namespace, ownNamespace)) desired.delete(key);

  const remove: ManagedBinding[] = [];
  const bound = new Map<string, Set<ManagedBinding['kind']>>();
  for (const b of state.bindings) {
    const subject = b.subject;
    const expectedName = subject
      ? bindingNames(subject)[b.kind === 'RoleBinding' ? 'roleBinding' : 'clusterRoleBinding']
      : undefined;
    const inPlace = subject && (b.kind === 'ClusterRoleBinding' || b.namespace === subject.namespace);
    if (!subject || !inPlace || b.name !== expectedName || !desired.has(accountKey(subject))) {
      remove.push(b);
      continue;
    }
    const kinds = bound.get(accountKey(subject)) ?? new Set();
    kinds.add(b.kind);
    bound.set(accountKey(subject), kinds);
  }
  const bind = [...desired.entries()]
    .filter(([key]) => (bound.get(key)?.size ?? 0) < 2)
    .map(([, a]) => a)
    .sort((x, y) => accountKey(x).localeCompare(accountKey(y)));
  return { bind, remove };
}
