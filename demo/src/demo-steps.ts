/**
 * The steps the local demo (demo.ts) and the real-node demo (real-node-demo.ts) tell alike: the timestamped
 * narration, the namespace that asks for injection, the example applied for the fastest reaction, the stick moved
 * from one node to the other, and the waits for a pod on a node and for its deletion.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { GRACE_PERIOD_ANNOTATION } from '@sidecar-destruct/core';
import type { RunningWebhook } from '@sidecar-destruct/infra';
import {
  apply,
  type ControlPlane,
  type Manifest,
  readManifests,
  type StandInKubelet,
  setNodeLabels,
  USB_LABEL,
  until,
} from '@sidecar-destruct/testkit';

export { USB_LABEL } from '@sidecar-destruct/testkit';

/** A line writer that stamps each line with the seconds since the narrator was made. */
/** What every story holds while it runs, for its steps and its clean-up. */
export interface BaseStage {
  readonly cp: ControlPlane;
  readonly say: (text: string) => void;
  readonly write: (line: string) => void;
  webhook?: RunningWebhook;
  standIn?: StandInKubelet;
}

export function narrator(write: (line: string) => void): (text: string) => void {
  const t0 = performance.now();
  return (text) => write(`[${((performance.now() - t0) / 1_000).toFixed(2).padStart(6)}s] ${text}`);
}

/** A namespace labelled for injection and Pod Security "restricted", ready once its default ServiceAccount is. */
export async function createInjectedNamespace(cp: ControlPlane, namespace: string): Promise<void> {
  await cp.rest('POST', '/api/v1/namespaces', {
    metadata: {
      name: namespace,
      labels: {
        'sidecar-destruct.io/injection': 'enabled',
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
    },
  });
  await until('the default ServiceAccount', async () =>
    (await cp.rest('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200
      ? true
      : undefined,
  );
}

/**
 * Applies deploy/examples/zigbee2mqtt.yaml in `namespace` with a grace period of 0s, and returns the Deployment
 * as the file has it. The default grace period (10 s) rides out API hiccups and a stick that re-enumerates; the
 * demos show the fastest reaction instead, with the one annotation a user would set for it.
 */
export async function applyExample(cp: ControlPlane, namespace: string): Promise<Manifest> {
  const [deployment] = await readManifests('examples/zigbee2mqtt.yaml');
  if (!deployment) throw new Error('deploy/examples/zigbee2mqtt.yaml is empty');
  const template = deployment.spec.template;
  await apply(cp, [
    {
      ...deployment,
      metadata: { ...deployment.metadata, namespace },
      spec: {
        ...deployment.spec,
        template: {
          ...template,
          metadata: {
            ...template.metadata,
            annotations: { ...template.metadata?.annotations, [GRACE_PERIOD_ANNOTATION]: '0s' },
          },
        },
      },
    },
  ]);
  return deployment;
}

export interface LivePodOptions {
  /** A pod to pass over (the one being replaced). */
  readonly not?: string | undefined;
  /** Wait for the pod's Ready condition as well. */
  readonly ready?: boolean;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/** The first pod in `namespace` bound to `node` and not being deleted. */
export function livePod(
  cp: ControlPlane,
  namespace: string,
  node: string,
  options: LivePodOptions = {},
): Promise<V1Pod> {
  return until(
    `a pod on ${node}`,
    async () => {
      const list = await cp.rest('GET', `/api/v1/namespaces/${namespace}/pods`);
      return (list.body.items as V1Pod[]).find(
        (p) =>
          p.spec?.nodeName === node &&
          !p.metadata?.deletionTimestamp &&
          p.metadata?.uid !== options.not &&
          (!options.ready || p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
      );
    },
    options.timeoutMs,
    options.intervalMs,
  );
}

/** Unplugs the stick from `from` and plugs it into `to`, as NFD relabels the two nodes. */
export async function moveStick(cp: ControlPlane, from: string, to: string): Promise<void> {
  await setNodeLabels(cp, from, { [USB_LABEL]: null });
  await setNodeLabels(cp, to, { [USB_LABEL]: 'true' });
}

/** Resolves once the pod is gone or being deleted. */
export async function untilDeleting(cp: ControlPlane, namespace: string, name: string): Promise<void> {
  await until('the pod to be deleted', async () => {
    const reply = await cp.rest('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
    return reply.status === 404 || reply.body?.metadata?.deletionTimestamp ? true : undefined;
  });
}
