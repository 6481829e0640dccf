/** Objects the e2e suites create, written as a user (or the webhook) would write them. */
import { randomBytes } from 'node:crypto';
import type { V1ClusterRoleBinding, V1Pod, V1RoleBinding } from '@kubernetes/client-node';
import {
  type RealNode,
  type RealNodeBuild,
  type RunningWebhook,
  realNodeLeftovers,
  realNodeUnavailable,
  startRealNode,
  startWebhook,
  WEBHOOK_NAMESPACE,
  watchedSysctls,
} from '@sidecar-destruct/infra';
import {
  type ControlPlane,
  type ControlPlaneOptions,
  MERGE_PATCH,
  registerNode,
  StandInKubelet,
  startControlPlane,
  USB_LABEL,
  until,
} from '@sidecar-destruct/testkit';

export { USB_LABEL as USB } from '@sidecar-destruct/testkit';

export async function expectStatus(promise: ReturnType<ControlPlane['rest']>, ...ok: number[]) {
  const reply = await promise;
  if (!ok.includes(reply.status)) throw new Error(`HTTP ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export { podWithSidecar, sidecarNamespace } from '@sidecar-destruct/infra';
export { registerNode as createNode, setNodeLabels } from '@sidecar-destruct/testkit';

export async function createPod(cp: ControlPlane, namespace: string, pod: V1Pod): Promise<V1Pod> {
  return expectStatus(cp.rest('POST', `/api/v1/namespaces/${namespace}/pods`, pod), 201);
}

/** Polls until the pod is being deleted (deletionTimestamp) or gone; resolves with the time it saw that. */
export function podGone(
  cp: ControlPlane,
  namespace: string,
  name: string,
  uid: string,
  timeoutMs = 10_000,
): Promise<number> {
  return until(
    `pod ${namespace}/${name} to go`,
    async () => {
      const reply = await cp.rest('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
      const gone =
        reply.status === 404 || reply.body?.metadata?.uid !== uid || reply.body?.metadata?.deletionTimestamp;
      return gone ? performance.now() : undefined;
    },
    timeoutMs,
    10,
  );
}

/** Retries `check` until it stops throwing, for state the API server reaches asynchronously. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  let last: unknown;
  const settled = await until(
    () => (last instanceof Error ? last.message : String(last)),
    async () => {
      try {
        return { value: await check() };
      } catch (e) {
        last = e;
        return undefined;
      }
    },
    timeoutMs,
    50,
  ).catch((timeout: Error) => {
    throw last instanceof Error ? last : timeout;
  });
  return settled.value;
}

/** A namespace with `labels` and its `default` ServiceAccount, made at once rather than waited for. */
export async function createNamespace(
  cp: ControlPlane,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await expectStatus(cp.rest('POST', '/api/v1/namespaces', { metadata: { name, labels } }), 201);
  // kube-controller-manager, where it runs, may have made it first.
  await expectStatus(
    cp.rest('POST', `/api/v1/namespaces/${name}/serviceaccounts`, { metadata: { name: 'default' } }),
    201,
    409,
  );
}

/** A pod pinned to the USB stick that passes Pod Security "restricted". */
export function usbPod(
  name: string,
  options: { labels?: Record<string, string>; account?: string } = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: options.labels ?? {} },
    spec: {
      ...(options.account ? { serviceAccountName: options.account } : {}),
      nodeSelector: { [USB_LABEL]: 'true' },
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'app',
          image: 'example/app:1',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

export const RBAC_API = '/apis/rbac.authorization.k8s.io/v1';
/** The label selector of every account and binding the webhook makes. */
export const MANAGED_BY_WEBHOOK = 'app.kubernetes.io/managed-by=sidecar-destruct-webhook';

/** Every binding the webhook made: `RoleBinding ns/name` and `ClusterRoleBinding name`, sorted. */
export async function managedBindings(cp: ControlPlane): Promise<string[]> {
  const rbs = await expectStatus(
    cp.rest('GET', `${RBAC_API}/rolebindings?labelSelector=${MANAGED_BY_WEBHOOK}`),
    200,
  );
  const crbs = await expectStatus(
    cp.rest('GET', `${RBAC_API}/clusterrolebindings?labelSelector=${MANAGED_BY_WEBHOOK}`),
    200,
  );
  return [
    ...rbs.items.map((b: V1RoleBinding) => `RoleBinding ${b.metadata?.namespace}/${b.metadata?.name}`),
    ...crbs.items.map((b: V1ClusterRoleBinding) => `ClusterRoleBinding ${b.metadata?.name}`),
  ].sort();
}

export async function eventsOf(
  cp: ControlPlane,
  namespace: string,
  uid: string,
): Promise<Array<{ reason: string; type: string; message: string }>> {
  const list = await expectStatus(
    cp.rest('GET', `/api/v1/namespaces/${namespace}/events?fieldSelector=involvedObject.uid=${uid}`),
    200,
  );
  return list.items;
}

export interface InstalledCluster {
  readonly cp: ControlPlane;
  readonly webhook: RunningWebhook;
  readonly kubelet: StandInKubelet;
  stop(): Promise<void>;
}

/**
 * A namespace labelled for injection under Pod Security "restricted", once its default ServiceAccount is there
 * (kube-controller-manager creates it; pods need it).
 */
export async function enabledNamespace(cp: ControlPlane, name: string): Promise<void> {
  await expectStatus(
    cp.rest('POST', '/api/v1/namespaces', {
      metadata: {
        name,
        labels: {
          'sidecar-destruct.io/injection': 'enabled',
          'pod-security.kubernetes.io/enforce': 'restricted',
        },
      },
    }),
    201,
  );
  await eventually(
    () => expectStatus(cp.rest('GET', `/api/v1/namespaces/${name}/serviceaccounts/default`), 200),
    15_000,
  );
}

/**
 * A control plane with sidecar-destruct installed from deploy/, node pi-a with the USB stick and pi-b without,
 * and the harness playing both nodes' kubelet.
 */
export async function installedCluster(
  options: ControlPlaneOptions = {},
  webhookFlags: readonly string[] = [],
): Promise<InstalledCluster> {
  const cp = await startControlPlane(options);
  const webhook = await startWebhook(cp, webhookFlags);
  await registerNode(cp, 'pi-a', { [USB_LABEL]: 'true', 'kubernetes.io/arch': 'arm64' });
  await registerNode(cp, 'pi-b', { 'kubernetes.io/arch': 'arm64' });
  const kubelet = new StandInKubelet(cp, new Set(['pi-a', 'pi-b']));
  kubelet.start();
  return {
    cp,
    webhook,
    kubelet,
    stop: async () => {
      await kubelet.stop();
      await webhook.stop();
      await cp.stop();
    },
  };
}

export interface RealNodeCluster {
  readonly cp: ControlPlane;
  readonly webhook: RunningWebhook;
  readonly node: RealNode;
}

/**
 * A control plane with the scheduler and controller manager, the webhook as a local process injecting the image
 * we ship (also named in sidecar-destruct-config, the admission policies' parameter), and a real node joined to
 * it with `build`'s images imported. Fails with the reason where a kubelet cannot run (Linux and root only).
 */
export async function realNodeCluster(
  name: string,
  build: RealNodeBuild,
  labels: Readonly<Record<string, string>> = {},
): Promise<RealNodeCluster> {
  const reason = await realNodeUnavailable();
  if (reason) {
    throw new Error(`a real node cannot run on this host: ${reason} (SIDECAR_DESTRUCT_REAL_NODE=0 skips it)`);
  }
  const token = randomBytes(24).toString('hex');
  const cp = await startControlPlane({
    scheduler: true,
    controllerManager: true,
    nodeAuthorization: true,
    // The API server calls the in-cluster webhook at its endpoint's pod IP: no kube-proxy runs here.
    apiServerArgs: ['--enable-aggregator-routing=true'],
    tokens: [{ token, user: `system:node:${name}`, groups: ['system:nodes'] }],
  });
  const webhook = await startWebhook(cp, [`--sidecar-image=${build.shipped.sidecar.name}`]);
  const config = await cp.rest(
    'PATCH',
    `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/configmaps/sidecar-destruct-config`,
    { data: { sidecarImage: build.shipped.sidecar.name } },
    { contentType: MERGE_PATCH },
  );
  if (config.status !== 200 && config.status !== 404)
    throw new Error(`sidecar-destruct-config: ${config.status}`);
  const node = await startRealNode(cp, { name, token, build, labels });
  return { cp, webhook, node };
}

/** What a real node left on the host after it stopped (processes, mounts, addresses, changed sysctls). */
export async function realNodeLeft(node: RealNode | undefined): Promise<string[]> {
  const left = await realNodeLeftovers();
  const sysctlsAfter = await watchedSysctls();
  for (const [key, value] of node?.sysctlsBefore ?? []) {
    if (sysctlsAfter.get(key) !== value) left.push(`sysctl ${key} = ${sysctlsAfter.get(key)} (was ${value})`);
  }
  return left;
}
