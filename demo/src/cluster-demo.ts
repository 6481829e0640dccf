/**
 * `npm run demo -- --kubeconfig FILE --node-a A --node-b B`: the same story on an existing cluster where
 * sidecar-destruct is installed. It touches only what it creates: a label of its own on the two nodes it is
 * told to use (removed at the end, and only while it still holds this run's value), and a namespace of its own
 * with one Deployment (deleted at the end).
 */
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
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
  const { nodeA, nodeB } = options;
  const demo = new ClusterDemo(options);
  const { say, run } = demo;
  try {
    for (const node of [nodeA, nodeB]) await demo.core.readNode({ name: node });
    await demo.label(nodeA, run);
    say(`Labelled node ${nodeA} ${DEMO_LABEL}=${run} (this run's own label)`);
    await demo.createWorkload();
    say(
      `Created namespace ${demo.namespace} (injection enabled) with Deployment device-user pinned to the label`,
    );

    const first = await demo.runningPod(nodeA);
    if (!hasSidecar(first))
      throw new Error('the pod was not injected: is sidecar-destruct installed (kubectl apply -k deploy/)?');
    say(`Pod ${first.metadata?.name} running on ${nodeA} with the sidecar`);
    // Give the sidecar a moment to establish its watch after its container started.
    await new Promise((r) => setTimeout(r, 3_000));

    say(`Moving the label: off ${nodeA}, onto ${nodeB}`);
    const moved = performance.now();
    await demo.label(nodeA, null);
    await demo.label(nodeB, run);
    await demo.untilDeleting(first);
    const reactionMs = performance.now() - moved;
    say(`Pod ${first.metadata?.name} is being deleted, ${reactionMs.toFixed(0)} ms after the label moved`);
    const second = await demo.runningPod(nodeB, first.metadata?.uid);
    say(`Replacement ${second.metadata?.name} running on ${nodeB}`);
    return { reactionMs };
  } finally {
    await demo.cleanUp();
  }
}

function hasSidecar(pod: V1Pod): boolean {
  return Boolean(
    pod.spec?.initContainers?.some((c) => c.name === SIDECAR_CONTAINER) ||
      pod.spec?.containers.some((c) => c.name === SIDECAR_CONTAINER),
  );
}

/** One run on the cluster: its clients, its own label value and namespace, and the nodes that carry its label. */
class ClusterDemo {
  readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  readonly run = randomBytes(3).toString('hex');
  readonly namespace = `sidecar-destruct-demo-${this.run}`;
  readonly say: (text: string) => void;
  private readonly timeoutMs: number;
  private readonly labelled = new Set<string>();

  constructor(private readonly options: ClusterDemoOptions) {
    const kc = new KubeConfig();
    kc.loadFromFile(options.kubeconfig);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.timeoutMs = options.timeoutMs ?? 180_000;
    this.say = narrator(options.write);
  }

  /** Puts this run's label on a node (a value) or takes it off (null), and remembers which nodes carry it. */
  async label(node: string, value: string | null): Promise<void> {
    await this.patchLabel(node, value);
    if (value === null) this.labelled.delete(node);
    else this.labelled.add(node);
  }

  /** The namespace, asking for injection, with one Deployment pinned to this run's label. */
  async createWorkload(): Promise<void> {
    await this.core.createNamespace({
      body: { metadata: { name: this.namespace, labels: { 'sidecar-destruct.io/injection': 'enabled' } } },
    });
    await this.apps.createNamespacedDeployment({
      namespace: this.namespace,
      body: deviceUser(this.run, this.options.image),
    });
  }

  /** A running pod on `node`, other than the one with uid `not`. */
  runningPod(node: string, not?: string): Promise<V1Pod> {
    return until(
      `a running pod on ${node}`,
      async () => {
        const pods = (await this.core.listNamespacedPod({ namespace: this.namespace })).items as V1Pod[];
        return pods.find(
          (p) =>
            p.spec?.nodeName === node &&
            p.status?.phase === 'Running' &&
            !p.metadata?.deletionTimestamp &&
            p.metadata?.uid !== not,
        );
      },
      this.timeoutMs,
      20,
    );
  }

  /** Until the pod is gone, replaced by one of the same name, or being deleted. */
  async untilDeleting(pod: V1Pod): Promise<void> {
    await until(
      'the pod to be deleted',
      async () => {
        const now = await this.core
          .readNamespacedPod({ name: pod.metadata?.name ?? '', namespace: this.namespace })
          .catch(() => undefined);
        return !now || now.metadata?.uid !== pod.metadata?.uid || now.metadata?.deletionTimestamp
          ? true
          : undefined;
      },
      this.timeoutMs,
      20,
    );
  }

  /** Deletes the namespace, and takes the label off each node that still carries this run's value. */
  async cleanUp(): Promise<void> {
    const nodes = [...this.labelled].join(', ') || 'no node';
    this.say(`Cleaning up: namespace ${this.namespace}, and this run's label on ${nodes}`);
    await this.core.deleteNamespace({ name: this.namespace }).catch(() => undefined);
    for (const node of this.labelled) {
      const current = await this.core.readNode({ name: node }).catch(() => undefined);
      if (current?.metadata?.labels?.[DEMO_LABEL] === this.run) {
        await this.patchLabel(node, null).catch(() => undefined);
      }
    }
  }

  private async patchLabel(node: string, value: string | null): Promise<void> {
    await this.core.patchNode({
      name: node,
      body: [
        {
          op: value === null ? 'remove' : 'add',
          path: `/metadata/labels/${DEMO_LABEL.replace('/', '~1')}`,
          ...(value === null ? {} : { value }),
        },
      ],
    });
  }
}

/** A Deployment of one pod that sleeps, pinned to this run's label value, under Pod Security "restricted". */
function deviceUser(run: string, image: string): V1Deployment {
  return {
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
              image,
              command: ['sh', '-c', 'sleep 3600'],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
}
