/**
 * `npm run demo -- --kubeconfig FILE --node-a A --node-b B`: the same story on an existing cluster where
 * sidecar-destruct is installed. It touches only what it creates: a label of its own on the two nodes it is
 * told to use (removed at the end, and only while it still holds this run's value), and a namespace of its own
 * with one Deployment (deleted at the end).
 */
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { GRACE_PERIOD_ANNOTATION, SIDECAR_CONTAINER } from '@sidecar-destruct/core';
import { until } from '@sidecar-destruct/testkit';
import { narrator } from './demo-steps.js';

const DEMO_LABEL = 'sidecar-destruct.io/demo-device';

export interface ClusterDemoOptions {
  readonly kubeconfig: string;
  readonly nodeA: string;
  readonly nodeB: string;
  readonly image: string;
  readonly write: (line: string) => void;
  readonly timeoutMs?: number;
}

export async function runClusterDemo(options: ClusterDemoOptions): Promise<{ reactionMs: number }> {
  const kc = new KubeConfig();
  kc.loadFromFile(options.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const run = randomBytes(3).toString('hex');
  const namespace = `sidecar-destruct-demo-${run}`;
  const timeoutMs = options.timeoutMs ?? 180_000;
  const say = narrator(options.write);
  const label = async (node: string, value: string | null) => {
    await core.patchNode({
      name: node,
      body: [
        {
          op: value === null ? 'remove' : 'add',
          path: `/metadata/labels/${DEMO_LABEL.replace('/', '~1')}`,
          ...(value === null ? {} : { value }),
        },
      ],
    });
  };
  const labelled = new Set<string>();

  try {
    for (const node of [options.nodeA, options.nodeB]) await core.readNode({ name: node });
    await label(options.nodeA, run);
    labelled.add(options.nodeA);
    say(`Labelled node ${options.nodeA} ${DEMO_LABEL}=${run} (this run's own label)`);
    await core.createNamespace({
      body: { metadata: { name: namespace, labels: { 'sidecar-destruct.io/injection': 'enabled' } } },
    });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'device-user' },
        spec: {
          replicas: 1,
          strategy: { type: 'Recreate' },
          selector: { matchLabels: { app: 'device-user' } },
          template: {
            // The fastest reaction for the demo; the default grace period is 10 s.
            metadata: { labels: { app: 'device-user' }, annotations: { [GRACE_PERIOD_ANNOTATION]: '0s' } },
            spec: {
              nodeSelector: { [DEMO_LABEL]: run },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 1000,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              containers: [
                {
                  name: 'app',
                  image: options.image,
                  command: ['sh', '-c', 'sleep 3600'],
                  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                },
              ],
            },
          },
        },
      },
    });
    say(`Created namespace ${namespace} (injection enabled) with Deployment device-user pinned to the label`);

    const running = (node: string, not?: string) =>
      until(
        `a running pod on ${node}`,
        async () => {
          const pods = (await core.listNamespacedPod({ namespace })).items as V1Pod[];
          return pods.find(
            (p) =>
              p.spec?.nodeName === node &&
              p.status?.phase === 'Running' &&
              !p.metadata?.deletionTimestamp &&
              p.metadata?.uid !== not,
          );
        },
        timeoutMs,
        20,
      );
    const first = await running(options.nodeA);
    const injected =
      first.spec?.initContainers?.some((c) => c.name === SIDECAR_CONTAINER) ||
      first.spec?.containers.some((c) => c.name === SIDECAR_CONTAINER);
    if (!injected)
      throw new Error('the pod was not injected: is sidecar-destruct installed (kubectl apply -k deploy/)?');
    say(`Pod ${first.metadata?.name} running on ${options.nodeA} with the sidecar`);
    // Give the sidecar a moment to establish its watch after its container started.
    await new Promise((r) => setTimeout(r, 3_000));

    say(`Moving the label: off ${options.nodeA}, onto ${options.nodeB}`);
    const moved = performance.now();
    await label(options.nodeA, null);
    labelled.delete(options.nodeA);
    await label(options.nodeB, run);
    labelled.add(options.nodeB);
    await until(
      'the pod to be deleted',
      async () => {
        const pod = await core
          .readNamespacedPod({ name: first.metadata?.name ?? '', namespace })
          .catch(() => undefined);
        return !pod || pod.metadata?.uid !== first.metadata?.uid || pod.metadata?.deletionTimestamp
          ? true
          : undefined;
      },
      timeoutMs,
      20,
    );
    const reactionMs = performance.now() - moved;
    say(`Pod ${first.metadata?.name} is being deleted, ${reactionMs.toFixed(0)} ms after the label moved`);
    const second = await running(options.nodeB, first.metadata?.uid);
    say(`Replacement ${second.metadata?.name} running on ${options.nodeB}`);
    return { reactionMs };
  } finally {
    say(
      `Cleaning up: namespace ${namespace}, and this run's label on ${[...labelled].join(', ') || 'no node'}`,
    );
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    for (const node of labelled) {
      const current = await core.readNode({ name: node }).catch(() => undefined);
      if (current?.metadata?.labels?.[DEMO_LABEL] === run) await label(node, null).catch(() => undefined);
    }
  }
}
