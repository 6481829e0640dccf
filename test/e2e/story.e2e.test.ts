/**
 * The README's story on a real control plane with kube-scheduler and kube-controller-manager: an unmodified
 * Deployment pinned by a USB label lands on node A; the stick moves to node B; the pod deletes itself and its
 * replacement is scheduled on B. And the eviction path, held back by a PodDisruptionBudget.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_SETTINGS } from '@sidecar-destruct/core';
import { runClusterDemo } from '@sidecar-destruct/demo';
import { apply, type ControlPlane, readManifests, type StandInKubelet } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enabledNamespace,
  eventsOf,
  eventually,
  expectStatus,
  type InstalledCluster,
  installedCluster,
  setNodeLabels,
  USB,
} from './fixtures.js';

let cluster: InstalledCluster;
let cp: ControlPlane;
let kubelet: StandInKubelet;

beforeAll(async () => {
  cluster = await installedCluster({ scheduler: true, controllerManager: true });
  ({ cp, kubelet } = cluster);
});

afterAll(async () => cluster?.stop());

async function livePods(namespace: string): Promise<V1Pod[]> {
  const list = await expectStatus(cp.rest('GET', `/api/v1/namespaces/${namespace}/pods`), 200);
  return (list.items as V1Pod[]).filter((p) => !p.metadata?.deletionTimestamp);
}

/** The one live pod of the namespace once it is bound to `node`. */
async function podOn(namespace: string, node: string, timeoutMs = 20_000): Promise<V1Pod> {
  return eventually(async () => {
    const pods = await livePods(namespace);
    expect(pods.map((p) => p.spec?.nodeName)).toEqual([node]);
    return pods[0] as V1Pod;
  }, timeoutMs);
}

describe('the story', () => {
  it('moves a USB-pinned Deployment to the node the stick was plugged into', async () => {
    await enabledNamespace(cp, 'home');
    const [deployment] = await readManifests('examples/zigbee2mqtt.yaml');
    await apply(cp, [{ ...deployment, metadata: { ...deployment?.metadata, namespace: 'home' } }]);

    const first = await podOn('home', 'pi-a');
    expect(first.spec?.initContainers?.map((c) => c.name)).toEqual(['sidecar-destruct']);
    const sidecar = await kubelet.waitForSidecar(first.metadata?.uid ?? '');
    await sidecar.waitForLog((l) => l.msg === 'watching the node');

    const unplugged = performance.now();
    await setNodeLabels(cp, 'pi-a', { [USB]: null });
    await setNodeLabels(cp, 'pi-b', { [USB]: 'true' });
    const second = await podOn('home', 'pi-b', 40_000);
    const moved = performance.now() - unplugged;
    expect(second.metadata?.uid).not.toBe(first.metadata?.uid);
    expect(second.spec?.initContainers?.map((c) => c.name)).toEqual(['sidecar-destruct']);
    // The Event is sent just before the delete, and may land after the pod is gone.
    await eventually(async () =>
      expect((await eventsOf(cp, 'home', first.metadata?.uid ?? '')).map((e) => e.reason)).toContain(
        'NodeConstraintLost',
      ),
    );
    // The example sets no grace period: the default (10 s) is waited out, then scheduling and the ReplicaSet
    // controller's own pace are in this figure too.
    expect(moved).toBeGreaterThanOrEqual(DEFAULT_SETTINGS.gracePeriodMs);
    expect(moved).toBeLessThan(DEFAULT_SETTINGS.gracePeriodMs + 10_000);
  });

  it('evicts through the PodDisruptionBudget: blocked and reported while it forbids, done once it allows', async () => {
    await enabledNamespace(cp, 'guarded');
    const [deployment] = await readManifests('examples/zigbee2mqtt.yaml');
    await apply(cp, [
      {
        ...deployment,
        metadata: { ...deployment?.metadata, namespace: 'guarded' },
        spec: {
          ...deployment?.spec,
          template: {
            ...deployment?.spec.template,
            metadata: {
              ...deployment?.spec.template.metadata,
              annotations: {
                'sidecar-destruct.io/action': 'evict',
                'sidecar-destruct.io/grace-period': '0s',
              },
            },
          },
        },
      },
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'zigbee2mqtt', namespace: 'guarded' },
        spec: { minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'zigbee2mqtt' } } },
      },
    ]);
    const pod = await podOn('guarded', 'pi-b');
    const sidecar = await kubelet.waitForSidecar(pod.metadata?.uid ?? '');
    await sidecar.waitForLog((l) => l.msg === 'watching the node');

    await setNodeLabels(cp, 'pi-b', { [USB]: null });
    await sidecar.waitForLog((l) => l.decision === 'retry' && String(l.reason).includes('429'), 15_000);
    await eventually(async () =>
      expect((await eventsOf(cp, 'guarded', pod.metadata?.uid ?? '')).map((e) => e.reason)).toEqual(
        expect.arrayContaining(['NodeConstraintLost', 'EvictionBlocked']),
      ),
    );
    expect((await livePods('guarded')).map((p) => p.metadata?.uid)).toEqual([pod.metadata?.uid]);

    await expectStatus(
      cp.rest('DELETE', '/apis/policy/v1/namespaces/guarded/poddisruptionbudgets/zigbee2mqtt'),
      200,
    );
    await eventually(
      async () =>
        expect(
          (await livePods('guarded')).map((p) => p.metadata?.uid),
          sidecar.logs.map((l) => JSON.stringify(l)).join('\n'),
        ).not.toContain(pod.metadata?.uid),
      40_000,
    );
  });

  it('runs against an existing cluster with --kubeconfig, touching only what it created', async () => {
    const labelsBefore = await Promise.all(
      ['pi-a', 'pi-b'].map(
        async (n) => (await expectStatus(cp.rest('GET', `/api/v1/nodes/${n}`), 200)).metadata.labels,
      ),
    );
    const lines: string[] = [];
    const { reactionMs } = await runClusterDemo({
      kubeconfig: cp.kubeconfig,
      nodeA: 'pi-a',
      nodeB: 'pi-b',
      image: 'busybox:1.37',
      write: (line) => lines.push(line),
      timeoutMs: 30_000,
    });
    expect(reactionMs).toBeLessThan(1_000);
    expect(lines.join('\n')).toMatch(/Replacement \S+ running on pi-b/);
    const labelsAfter = await Promise.all(
      ['pi-a', 'pi-b'].map(
        async (n) => (await expectStatus(cp.rest('GET', `/api/v1/nodes/${n}`), 200)).metadata.labels,
      ),
    );
    expect(labelsAfter).toEqual(labelsBefore);
    const namespaces = await expectStatus(cp.rest('GET', '/api/v1/namespaces'), 200);
    for (const ns of namespaces.items.filter((n: { metadata: { name: string } }) =>
      n.metadata.name.startsWith('sidecar-destruct-demo-'),
    )) {
      expect(ns.status.phase).toBe('Terminating');
    }
  });
});
