/** Objects the e2e suites create, written as a user (or the webhook) would write them. */
import type { V1Pod } from '@kubernetes/client-node';
import {
  type ControlPlane,
  type ControlPlaneOptions,
  Kubelet,
  type RunningWebhook,
  registerNode,
  startControlPlane,
  startWebhook,
  until,
} from '@sidecar-destruct/cluster';

export const USB = 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present';

export async function expectStatus(promise: ReturnType<ControlPlane['rest']>, ...ok: number[]) {
  const reply = await promise;
  if (!ok.includes(reply.status)) throw new Error(`HTTP ${reply.status}: ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export {
  podWithSidecar,
  registerNode as createNode,
  setNodeLabels,
  sidecarNamespace,
} from '@sidecar-destruct/cluster';

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
  readonly kubelet: Kubelet;
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
  await registerNode(cp, 'pi-a', { [USB]: 'true', 'kubernetes.io/arch': 'arm64' });
  await registerNode(cp, 'pi-b', { 'kubernetes.io/arch': 'arm64' });
  const kubelet = new Kubelet(cp, new Set(['pi-a', 'pi-b']));
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
