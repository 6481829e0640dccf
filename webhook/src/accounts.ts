/**
 * Zero edits: before a pod with the sidecar is admitted, its namespace must hold the sidecar's ServiceAccount
 * (when the webhook assigned it) and the bindings that give that account exactly the sidecar's permissions:
 * a RoleBinding to `sidecar-destruct-sidecar` (pods delete, pods/eviction create, events create, in this
 * namespace) and a ClusterRoleBinding to `sidecar-destruct-node-reader` (nodes get/watch). Created on demand;
 * AlreadyExists is success. Remembered for a while so that a burst of pods costs one round of calls.
 */
import { ApiException, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { err, ok, type Result } from '@sidecar-destruct/sidecar/core';

export const SIDECAR_CLUSTER_ROLE = 'sidecar-destruct-sidecar';
export const NODE_READER_CLUSTER_ROLE = 'sidecar-destruct-node-reader';
const LABELS = {
  'app.kubernetes.io/name': 'sidecar-destruct',
  'app.kubernetes.io/managed-by': 'sidecar-destruct-webhook',
};
const REMEMBER_MS = 10 * 60_000;

export type EnsureAccount = (
  namespace: string,
  account: string,
  createAccount: boolean,
) => Promise<Result<void>>;

/** Names of the bindings for one account; a ClusterRoleBinding name must be unique cluster-wide. */
export const bindingNames = (namespace: string, account: string) => ({
  roleBinding: `sidecar-destruct:${account}`,
  clusterRoleBinding: `sidecar-destruct:${namespace}:${account}`,
});

async function created(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (e) {
    if (e instanceof ApiException && e.code === 409) return;
    throw e;
  }
}

export function accountEnsurer(kubeConfig: KubeConfig, now: () => number = Date.now): EnsureAccount {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const ensuredUntil = new Map<string, number>();

  return async (namespace, account, createAccount) => {
    const key = `${namespace}/${account}`;
    if ((ensuredUntil.get(key) ?? 0) > now()) return ok(undefined);
    const subject = { kind: 'ServiceAccount', name: account, namespace };
    const names = bindingNames(namespace, account);
    try {
      if (createAccount) {
        await created(() =>
          core.createNamespacedServiceAccount({
            namespace,
            body: { metadata: { name: account, namespace, labels: LABELS } },
          }),
        );
      }
      await created(() =>
        rbac.createNamespacedRoleBinding({
          namespace,
          body: {
            metadata: { name: names.roleBinding, namespace, labels: LABELS },
            roleRef: {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'ClusterRole',
              name: SIDECAR_CLUSTER_ROLE,
            },
            subjects: [subject],
          },
        }),
      );
      await created(() =>
        rbac.createClusterRoleBinding({
          body: {
            metadata: { name: names.clusterRoleBinding, labels: LABELS },
            roleRef: {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'ClusterRole',
              name: NODE_READER_CLUSTER_ROLE,
            },
            subjects: [subject],
          },
        }),
      );
    } catch (e) {
      const detail = e instanceof ApiException ? `HTTP ${e.code}` : (e as Error).message;
      return err(`cannot create the sidecar's ServiceAccount or bindings in ${namespace} (${detail})`);
    }
    ensuredUntil.set(key, now() + REMEMBER_MS);
    return ok(undefined);
  };
}

export function loadKubeConfig(kubeconfig: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  return kc;
}
