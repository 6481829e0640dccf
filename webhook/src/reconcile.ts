/**
 * The reconciler: makes the sidecar's bindings equal the rule of grants.ts for the whole cluster, on start and
 * every `--reconcile-interval-seconds`. It binds accounts granted while none of their pods was being admitted,
 * and removes the bindings of accounts that lost the grant (namespace or account label removed) or are gone
 * (namespace deleted: ClusterRoleBindings are cluster-scoped and outlive it). Level-triggered from five
 * label- or field-selected lists, so it needs no state of its own; every replica may run it (AlreadyExists and
 * NotFound are success, and deletes carry the uid they saw as a precondition).
 */

import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type RbacV1Subject,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import type { Log } from '@sidecar-destruct/core';
import { bindAccount, describeApiError } from './accounts.js';
import { coalesced } from './pure/coalesce.js';
import {
  type Account,
  type ClusterState,
  type ManagedBinding,
  type Plan,
  plan,
  SELECTORS,
} from './pure/grants.js';

export interface Reconciler {
  /** One pass; resolves with what it did. */
  runOnce(): Promise<Plan>;
  /** Asks for a pass soon (a grant changed); calls within the debounce make one pass. */
  trigger(): void;
  stop(): void;
}

const subjectOf = (subjects: readonly RbacV1Subject[] | undefined): Account | undefined => {
  const only = subjects?.length === 1 ? subjects[0] : undefined;
  return only?.kind === 'ServiceAccount' && only.namespace
    ? { namespace: only.namespace, name: only.name }
    : undefined;
};

const accountOf = (m: V1ObjectMeta | undefined): Account => ({
  namespace: m?.namespace ?? '',
  name: m?.name ?? '',
});

/** A burst of watch events (a namespace deleted with its accounts) makes one pass. */
const DEBOUNCE_MS = 200;

const gone = (e: unknown): boolean => e instanceof ApiException && (e.code === 404 || e.code === 409);

/** What the plan needs, read from the API server: the bindings first, then the grants. */
async function readClusterState(
  core: CoreV1Api,
  rbac: RbacAuthorizationV1Api,
  dedicatedAccount: string,
): Promise<ClusterState> {
  // Bindings first: one created after this list by an admission is not in it, so it cannot be removed by a
  // grant this pass has not seen yet.
  const [roleBindings, clusterRoleBindings] = await Promise.all([
    rbac.listRoleBindingForAllNamespaces({ labelSelector: SELECTORS.managedBindings }),
    rbac.listClusterRoleBinding({ labelSelector: SELECTORS.managedBindings }),
  ]);
  const [namespaces, granted, dedicated] = await Promise.all([
    core.listNamespace({ labelSelector: SELECTORS.enabledNamespaces }),
    core.listServiceAccountForAllNamespaces({ labelSelector: SELECTORS.grantedAccounts }),
    core.listServiceAccountForAllNamespaces({ fieldSelector: SELECTORS.dedicatedAccounts(dedicatedAccount) }),
  ]);
  const bindings: ManagedBinding[] = [
    ...roleBindings.items.map((b) => ({
      kind: 'RoleBinding' as const,
      name: b.metadata?.name ?? '',
      namespace: b.metadata?.namespace ?? '',
      uid: b.metadata?.uid ?? '',
      subject: subjectOf(b.subjects),
    })),
    ...clusterRoleBindings.items.map((b) => ({
      kind: 'ClusterRoleBinding' as const,
      name: b.metadata?.name ?? '',
      uid: b.metadata?.uid ?? '',
      subject: subjectOf(b.subjects),
    })),
  ];
  return {
    enabledNamespaces: new Set(namespaces.items.map((n) => n.metadata?.name ?? '')),
    grantedAccounts: granted.items.map((sa) => accountOf(sa.metadata)),
    dedicatedAccounts: dedicated.items.map((sa) => accountOf(sa.metadata)),
    bindings,
  };
}

/** Removes (by uid: never a same-named successor) and makes bindings; one already gone is not an error. */
async function applyPlan(rbac: RbacAuthorizationV1Api, todo: Plan): Promise<void> {
  for (const b of todo.remove) {
    const body = { preconditions: { uid: b.uid } };
    try {
      if (b.kind === 'RoleBinding')
        await rbac.deleteNamespacedRoleBinding({ name: b.name, namespace: b.namespace ?? '', body });
      else await rbac.deleteClusterRoleBinding({ name: b.name, body });
    } catch (e) {
      if (!gone(e)) throw e;
    }
  }
  for (const account of todo.bind) await bindAccount(rbac, account);
}

/** The log fields of a pass that changed something. */
const changes = (todo: Plan) => ({
  bound: todo.bind.map((a) => `${a.namespace}/${a.name}`),
  removed: todo.remove.map((b) => `${b.kind} ${b.namespace ? `${b.namespace}/` : ''}${b.name}`),
});

export function startReconciler(
  kubeConfig: KubeConfig,
  options: { readonly ownNamespace: string; readonly dedicatedAccount: string; readonly intervalMs: number },
  log: Pick<Log, 'info' | 'warn'>,
): Reconciler {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);

  const pass = async (): Promise<Plan> => {
    const todo = plan(await readClusterState(core, rbac, options.dedicatedAccount), options.ownNamespace);
    await applyPlan(rbac, todo);
    if (todo.bind.length > 0 || todo.remove.length > 0)
      log.info(changes(todo), 'reconciled the sidecar bindings');
    return todo;
  };
  // One pass at a time; a change during a pass gets one more after it (joining the running pass would lose it
  // until the next periodic one).
  const runOnce = coalesced(pass);

  const tick = (): void => {
    runOnce().catch((e: unknown) =>
      log.warn({ error: describeApiError(e) }, 'cannot reconcile the sidecar bindings yet'),
    );
  };
  tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  let soon: NodeJS.Timeout | undefined;
  const trigger = (): void => {
    if (soon) return;
    soon = setTimeout(() => {
      soon = undefined;
      tick();
    }, DEBOUNCE_MS);
    soon.unref();
  };
  return {
    runOnce,
    trigger,
    stop: () => {
      clearInterval(timer);
      clearTimeout(soon);
    },
  };
}
