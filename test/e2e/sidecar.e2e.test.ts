import { DEFAULT_SETTINGS, type Rule, type Settings } from '@sidecar-destruct/core';
import {
  type ControlPlane,
  type RunningSidecar,
  startControlPlane,
  startSidecar,
} from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNode,
  createPod,
  eventsOf,
  eventually,
  expectStatus,
  podGone,
  podWithSidecar,
  setNodeLabels,
  sidecarNamespace,
  USB,
} from './fixtures.js';

const rule: Rule = { source: 'pod', nodeSelector: { [USB]: 'true' } };
const settings: Settings = { ...DEFAULT_SETTINGS, gracePeriodMs: 0 };
const NS = 'home';

let cp: ControlPlane;
const running: RunningSidecar[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  await sidecarNamespace(cp, NS);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await cp?.stop();
});

async function podOnNode(name: string, node: string, s = settings) {
  const pod = await createPod(cp, NS, podWithSidecar(name, node, rule, s));
  const sidecar = await startSidecar(cp, NS, name);
  running.push(sidecar);
  await sidecar.waitForLog((l) => l.msg === 'watching the node');
  return { uid: pod.metadata?.uid ?? '', sidecar };
}

describe('the sidecar against a real kube-apiserver', () => {
  it('deletes its pod when the USB label disappears, and records why on the pod', async () => {
    await createNode(cp, 'pi-a', { [USB]: 'true' });
    const { uid, sidecar } = await podOnNode('z2m-a', 'pi-a');

    const removed = performance.now();
    await setNodeLabels(cp, 'pi-a', { [USB]: null });
    const gone = await podGone(cp, NS, 'z2m-a', uid);
    expect(gone - removed).toBeLessThan(1_000);

    // The Event is sent just before the delete; with grace 0 the pod can be gone before it lands.
    await eventually(
      async () =>
        expect(await eventsOf(cp, NS, uid)).toEqual([
          expect.objectContaining({
            reason: 'NodeConstraintLost',
            type: 'Warning',
            message: expect.stringContaining(`node has no label ${USB}`),
          }),
        ]),
      30_000,
    );
    await sidecar.waitForLog((l) => l.msg === 'done; waiting for termination');
  });

  it('never deletes while the API server is down, and acts once it is back', async () => {
    await createNode(cp, 'pi-b', { [USB]: 'true' });
    const { uid, sidecar } = await podOnNode('z2m-b', 'pi-b');

    await cp.stopApiServer();
    await sidecar.waitForLog((l) => l.msg.startsWith('cannot observe the node'), 15_000);
    await cp.startApiServer();
    // Still there: an unreachable API server is no reason to act.
    const pod = await expectStatus(cp.rest('GET', `/api/v1/namespaces/${NS}/pods/z2m-b`), 200);
    expect(pod.metadata.deletionTimestamp).toBeUndefined();
    expect(sidecar.logs.filter((l) => l.decision === 'act')).toEqual([]);

    // The watch resumes: a later label removal still acts.
    await setNodeLabels(cp, 'pi-b', { [USB]: null });
    await podGone(cp, NS, 'z2m-b', uid, 40_000);
  });

  it('only reports in dry-run mode', async () => {
    await createNode(cp, 'pi-c', { [USB]: 'true' });
    const { uid, sidecar } = await podOnNode('z2m-c', 'pi-c', { ...settings, dryRun: true });
    await setNodeLabels(cp, 'pi-c', { [USB]: null });
    await sidecar.waitForLog((l) => l.decision === 'report');
    await eventually(async () =>
      expect((await eventsOf(cp, NS, uid)).map((e) => e.message)).toEqual([
        expect.stringContaining('dry-run'),
      ]),
    );
    const pod = await expectStatus(cp.rest('GET', `/api/v1/namespaces/${NS}/pods/z2m-c`), 200);
    expect(pod.metadata.deletionTimestamp).toBeUndefined();
  });

  it('waits out the grace period, and a label that comes back cancels it', async () => {
    await createNode(cp, 'pi-d', { [USB]: 'true' });
    const { uid, sidecar } = await podOnNode('z2m-d', 'pi-d', { ...settings, gracePeriodMs: 1_500 });
    await setNodeLabels(cp, 'pi-d', { [USB]: null });
    await sidecar.waitForLog((l) => l.decision === 'mismatch');
    await setNodeLabels(cp, 'pi-d', { [USB]: 'true' });
    await sidecar.waitForLog((l) => l.decision === 'restored');
    // Unplugged again at once: had the first grace period not been cancelled, the pod would go at its deadline,
    // less than 1.5 s after this second removal. It goes a whole grace period after it (a lower bound, which a
    // loaded machine only makes longer).
    const removed = performance.now();
    await setNodeLabels(cp, 'pi-d', { [USB]: null });
    const gone = await podGone(cp, NS, 'z2m-d', uid);
    expect(gone - removed).toBeGreaterThanOrEqual(1_500);
  });

  it('treats a deleted node as a mismatch', async () => {
    await createNode(cp, 'pi-e', { [USB]: 'true' });
    const { uid } = await podOnNode('z2m-e', 'pi-e');
    await expectStatus(cp.rest('DELETE', '/api/v1/nodes/pi-e'), 200);
    await podGone(cp, NS, 'z2m-e', uid);
  });

  it('exits promptly on SIGTERM', async () => {
    await createNode(cp, 'pi-f', { [USB]: 'true' });
    const { sidecar } = await podOnNode('z2m-f', 'pi-f');
    const t0 = performance.now();
    await sidecar.stop();
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(await sidecar.exited).toBe(0);
  });

  it('waits out a rejected token without acting, and re-reads the token file when it is rotated', async () => {
    await createNode(cp, 'pi-g', { [USB]: 'true' });
    const pod = await createPod(cp, NS, podWithSidecar('z2m-g', 'pi-g', rule, settings));
    const sidecar = await startSidecar(cp, NS, 'z2m-g', { token: 'not-a-valid-token' });
    running.push(sidecar);
    await sidecar.waitForLog(
      (l) => l.msg.startsWith('cannot observe the node') && String(l.error).includes('401'),
    );
    // The label goes while the sidecar cannot read: that is no reason to act without a fresh observation.
    await setNodeLabels(cp, 'pi-g', { [USB]: null });
    const failedReads = () => sidecar.logs.filter((l) => l.msg.startsWith('cannot observe the node')).length;
    const before = failedReads();
    // Two more refused reads after the label went: the sidecar had its chances and took none.
    await sidecar.waitForLog(() => failedReads() >= before + 2, 20_000);
    expect(sidecar.logs.filter((l) => l.decision !== undefined).map((l) => l.decision)).toEqual([]);
    expect(await eventsOf(cp, NS, pod.metadata?.uid ?? '')).toEqual([]);

    await sidecar.rotateToken(await sidecar.freshToken());
    await podGone(cp, NS, 'z2m-g', pod.metadata?.uid ?? '', 40_000);
  });
});
