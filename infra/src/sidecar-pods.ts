/**
 * Pods carrying the sidecar without a webhook, for the suites and benchmarks that test the sidecar alone: the
 * namespace with the account and bindings the webhook would leave (deploy/'s roles, the webhook's binding names),
 * and a pod bound to a node with the sidecar as the webhook injects it.
 */
import type { V1Pod } from '@kubernetes/client-node';
import {
  NODE_READER_CLUSTER_ROLE,
  type Rule,
  type Settings,
  SIDECAR_ACCOUNT,
  SIDECAR_CLUSTER_ROLE,
  SIDECAR_CONTAINER,
  sidecarEnv,
} from '@sidecar-destruct/core';
import { apply, type ControlPlane, readManifests } from '@sidecar-destruct/testkit';
import { bindingNames } from '@sidecar-destruct/webhook/grants';

async function expectCreated(reply: ReturnType<ControlPlane['rest']>): Promise<void> {
  const r = await reply;
  if (r.status !== 201) throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body)}`);
}

/** deploy/'s sidecar roles, and a namespace with the dedicated account bound to them. */
export async function sidecarNamespace(cp: ControlPlane, namespace: string): Promise<void> {
  await apply(cp, await readManifests('base/sidecar-rbac.yaml'));
  await expectCreated(cp.rest('POST', '/api/v1/namespaces', { metadata: { name: namespace } }));
  await expectCreated(
    cp.rest('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, {
      metadata: { name: SIDECAR_ACCOUNT },
    }),
  );
  const subject = { kind: 'ServiceAccount', name: SIDECAR_ACCOUNT, namespace };
  const roleRef = (name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name });
  const names = bindingNames({ namespace, name: SIDECAR_ACCOUNT });
  await expectCreated(
    cp.rest('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
      metadata: { name: names.roleBinding },
      roleRef: roleRef(SIDECAR_CLUSTER_ROLE),
      subjects: [subject],
    }),
  );
  await expectCreated(
    cp.rest('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      metadata: { name: names.clusterRoleBinding },
      roleRef: roleRef(NODE_READER_CLUSTER_ROLE),
      subjects: [subject],
    }),
  );
}

/** A pod bound to `node` carrying the sidecar with the env contract, as the webhook injects it. */
export function podWithSidecar(name: string, node: string, rule: Rule, settings: Settings): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      nodeName: node,
      serviceAccountName: SIDECAR_ACCOUNT,
      initContainers: [
        {
          name: SIDECAR_CONTAINER,
          image: 'sidecar-destruct:dev',
          restartPolicy: 'Always',
          env: sidecarEnv(rule, settings),
        },
      ],
      containers: [{ name: 'app', image: 'busybox' }],
    },
  };
}
