/**
 * The original project's second use case, told with deploy/examples/off-peak.yaml as a user applies it (its grace
 * period shortened to 2 s): the labeller's own account moves the label, as its CronJobs would, and may move
 * nothing else; when the window closes the workload's pods leave after their grace period, their replacements
 * wait Pending while it is closed, and they run again when it reopens.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { readManifests } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  createNode,
  eventually,
  expectStatus,
  type InstalledCluster,
  installedCluster,
  podGone,
  setNodeLabels,
} from './fixtures.js';

const NS = 'off-peak';
const WINDOW = 'example.com/off-peak';
const POOL = 'example.com/off-peak-pool';
const GRACE_MS = 2_000;

let cluster: InstalledCluster;
/** kubectl as the labeller's ServiceAccount, which is what the example's CronJobs run as. */
let asLabeller: (args: readonly string[]) => Promise<string>;

beforeAll(async () => {
  cluster = await installedCluster({ scheduler: true, controllerManager: true });
  const { cp } = cluster;
  await cp.kubectl(['create', 'namespace', NS]);
  await cp.kubectl(['label', 'namespace', NS, 'sidecar-destruct.io/injection=enabled']);
  for (const node of ['pi-a', 'pi-b']) await setNodeLabels(cp, node, { [POOL]: 'true' });
  const manifests = (await readManifests('examples/off-peak.yaml')).map((m) =>
    m.kind === 'Deployment'
      ? {
          ...m,
          spec: {
            ...m.spec,
            template: {
              ...m.spec.template,
              metadata: {
                ...m.spec.template.metadata,
                annotations: { 'sidecar-destruct.io/grace-period': `${GRACE_MS / 1_000}s` },
              },
            },
          },
        }
      : m,
  );
  await cp.kubectl(['apply', '-f', '-'], manifests.map((m) => stringify(m)).join('---\n'));
  const token = await expectStatus(
    cp.rest('POST', `/api/v1/namespaces/${NS}/serviceaccounts/off-peak-labeller/token`, {
      spec: { expirationSeconds: 3600 },
    }),
    201,
  );
  asLabeller = (args) => cp.kubectl([`--token=${token.status.token}`, ...args]);
  // The API server compiles a new policy within about a second of its creation: wait until it refuses.
  await eventually(
    () =>
      expect(
        asLabeller(['label', 'node', 'pi-a', 'example.com/other=x', '--dry-run=server']),
      ).rejects.toThrow('may change only the label example.com/off-peak'),
    10_000,
  );
});
afterAll(async () => cluster?.stop());

/** The example's CronJobs' own commands. */
const openWindow = () =>
  asLabeller(['label', 'nodes', '-l', `${POOL}=true`, `${WINDOW}=true`, '--overwrite']);
const closeWindow = () => asLabeller(['label', 'nodes', '-l', `${POOL}=true`, `${WINDOW}-`]);

async function batchPods(): Promise<V1Pod[]> {
  const list = await expectStatus(
    cluster.cp.rest(
      'GET',
      `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io/name=nightly-batch`,
    ),
    200,
  );
  return (list.items as V1Pod[]).filter((p) => !p.metadata?.deletionTimestamp);
}

const running = async (): Promise<V1Pod[]> => {
  const pods = await batchPods();
  expect(pods).toHaveLength(2);
  for (const p of pods) expect(p.status?.phase).toBe('Running');
  return pods;
};

describe('off-peak labels (deploy/examples/off-peak.yaml)', () => {
  it("confines the labeller's account to the one label", async () => {
    await openWindow();
    await expect(asLabeller(['label', 'node', 'pi-a', 'example.com/other=x'])).rejects.toThrow(
      'may change only the label example.com/off-peak',
    );
    await expect(asLabeller(['label', 'node', 'pi-a', `${WINDOW}=maybe`, '--overwrite'])).rejects.toThrow(
      'only to true',
    );
    await expect(asLabeller(['taint', 'node', 'pi-a', 'x=y:NoSchedule'])).rejects.toThrow(
      "may not change a node's spec",
    );
    const patch = (body: object) =>
      asLabeller(['patch', 'node', 'pi-a', '--type=merge', '-p', JSON.stringify(body)]);
    // An owner that does not exist would have the garbage collector delete the node; a finalizer pins it.
    const owner = {
      apiVersion: 'v1',
      kind: 'Namespace',
      name: 'gone',
      uid: '00000000-0000-0000-0000-000000000001',
    };
    await expect(patch({ metadata: { ownerReferences: [owner] } })).rejects.toThrow(
      'owner references or finalizers',
    );
    await expect(patch({ metadata: { finalizers: ['example.com/pin'] } })).rejects.toThrow(
      'owner references or finalizers',
    );
    await createNode(cluster.cp, 'not-in-pool', {});
    await expect(asLabeller(['label', 'node', 'not-in-pool', `${WINDOW}=true`])).rejects.toThrow(
      'only the nodes of the pool',
    );
    await expect(asLabeller(['delete', 'node', 'pi-a'])).rejects.toThrow('forbidden');
    await expect(asLabeller(['get', 'pods', '-n', NS])).rejects.toThrow('forbidden');
  });

  it('runs the workload while the window is open, empties it when it closes, and runs it again when it reopens', async () => {
    await openWindow();
    const night = await eventually(running, 60_000);

    const closed = performance.now();
    await closeWindow();
    for (const p of night) {
      const gone = await podGone(cluster.cp, NS, p.metadata?.name ?? '', p.metadata?.uid ?? '', 60_000);
      // Not before its grace period (a lower bound: a loaded machine only makes it later).
      expect(gone - closed).toBeGreaterThanOrEqual(GRACE_MS);
    }
    // Their replacements wait: no node is in the window.
    await eventually(async () => {
      const pods = await batchPods();
      expect(pods).toHaveLength(2);
      for (const p of pods) {
        expect(p.spec?.nodeName).toBeUndefined();
        expect(p.status?.conditions).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ type: 'PodScheduled', reason: 'Unschedulable' }),
          ]),
        );
      }
    }, 60_000);

    await openWindow();
    const nextNight = await eventually(running, 60_000);
    const before = new Set(night.map((p) => p.metadata?.uid));
    for (const p of nextNight) expect(before.has(p.metadata?.uid)).toBe(false);
  });
});
