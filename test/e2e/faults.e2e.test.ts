/**
 * The fault soak: 50 sidecars (the shipped bundle, as processes) watch 10 nodes of a real kube-apiserver through
 * a loopback proxy that, for a bounded, seeded run, resets, stalls, refuses (500, 429 with Retry-After, 401),
 * expires watches (410) and truncates responses, while the API server itself is stopped and started once. Meanwhile
 * the test flaps device labels for less than the grace period, makes node-feature-discovery "restart" (every NFD
 * label of a node gone for longer than the grace period), steps every sidecar's wall clock by ±1 h, and really
 * unplugs the device of three nodes.
 *
 * Pass: no pod whose node still matches is deleted (a flap counts as a short one only if the test saw its label
 * back within the grace period of sending its removal: on a loaded machine the API server itself can hold a restore
 * back, and then the node really did lack the label for longer); every pod whose device was really unplugged is deleted within
 * a stalled request's timeout (10 s) + the longest backoff window (30 s) + grace + 2 s of the later of its unplug
 * and the faults' end; each sidecar stays under REQUESTS_PER_MIN_MAX requests per minute.
 * SIDECAR_DESTRUCT_SOAK_SECONDS shortens the run for development (default 300).
 */
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { BACKOFF, DEFAULT_SETTINGS, type Rule, type Settings } from '@sidecar-destruct/core';
import {
  type ControlPlane,
  type FaultProxy,
  NFD_BASELINE_LABELS,
  type RunningSidecar,
  seededRandom,
  startControlPlane,
  startFaultProxy,
  startSidecar,
} from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode, createPod, podWithSidecar, setNodeLabels, sidecarNamespace, USB } from './fixtures.js';

const SOAK_MS = Number(process.env.SIDECAR_DESTRUCT_SOAK_SECONDS ?? 300) * 1_000;
const SEED = 20261125;
const NS = 'soak';
const NODES = 10;
const PODS_PER_NODE = 5;
const GRACE_MS = 3_000;
/** The sidecar's request timeout (sidecar/src/main.ts): how long a stalled request holds it. */
const REQUEST_TIMEOUT_MS = 10_000;
const UNPLUGGED_NODES = 3;
/** The bound on each sidecar's requests per minute under faults (a healthy one makes one every 5–10 minutes). */
const REQUESTS_PER_MIN_MAX = 20;
const SKEW = fileURLToPath(new URL('../faults/clock-skew.cjs', import.meta.url));

const rule: Rule = { source: 'pod', nodeSelector: { [USB]: 'true' } };
const settings: Settings = { ...DEFAULT_SETTINGS, gracePeriodMs: GRACE_MS };
const nodeName = (i: number) => `soak-${i}`;

let cp: ControlPlane;
let proxy: FaultProxy;
const sidecars: RunningSidecar[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  await sidecarNamespace(cp, NS);
  proxy = await startFaultProxy({
    target: { url: cp.server, caPem: (await import('node:fs')).readFileSync(cp.caFile, 'utf8') },
    seed: SEED,
    // Each request of a sidecar meets a fault with a probability of 45% in all.
    mix: {
      reset: 0.08,
      stall: 0.04,
      error500: 0.08,
      throttle429: 0.08,
      gone410: 0.06,
      truncate: 0.06,
      unauthorized401: 0.05,
    },
    maxWatchMs: 20_000,
  });
  for (let n = 0; n < NODES; n++) await createNode(cp, nodeName(n), { [USB]: 'true' });
  for (let n = 0; n < NODES; n++) {
    for (let p = 0; p < PODS_PER_NODE; p++) {
      const name = `p-${n}-${p}`;
      await createPod(cp, NS, podWithSidecar(name, nodeName(n), rule, settings));
    }
  }
  // Started in small batches: 50 Node processes on 2 cores.
  const names = Array.from(
    { length: NODES * PODS_PER_NODE },
    (_, i) => `p-${Math.floor(i / PODS_PER_NODE)}-${i % PODS_PER_NODE}`,
  );
  for (let i = 0; i < names.length; i += 10) {
    const batch = await Promise.all(
      names.slice(i, i + 10).map((name) =>
        startSidecar(cp, NS, name, {
          apiServer: { host: proxy.host, port: proxy.port, caPem: proxy.caPem },
          runtimeOptions: ['--require', SKEW],
        }),
      ),
    );
    sidecars.push(...batch);
  }
  await Promise.all(sidecars.map((s) => s.waitForLog((l) => l.msg === 'watching the node', 60_000)));
}, 600_000);

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  await proxy?.stop();
  await cp?.stop();
});

/** When the test first saw each pod being deleted (deletionTimestamp set, or gone). */
function deletionWatch() {
  const deletedAt = new Map<string, number>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const reply = await cp.rest('GET', `/api/v1/namespaces/${NS}/pods`).catch(() => undefined);
      if (reply?.status === 200) {
        const live = new Map((reply.body.items as V1Pod[]).map((p) => [p.metadata?.name ?? '', p]));
        for (const s of sidecars) {
          const name = s.pod.metadata?.name ?? '';
          const pod = live.get(name);
          const deleted =
            !pod || pod.metadata?.uid !== s.pod.metadata?.uid || pod.metadata?.deletionTimestamp;
          if (deleted && !deletedAt.has(name)) deletedAt.set(name, performance.now());
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    deletedAt,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const withoutNfd = Object.fromEntries([...Object.keys(NFD_BASELINE_LABELS), USB].map((k) => [k, null]));
const withNfd = { ...NFD_BASELINE_LABELS, [USB]: 'true' };

describe('the sidecar under faults, flaps and clock steps', () => {
  it(
    'deletes only the pods whose device is really gone, and never storms the API server',
    async () => {
      const random = seededRandom(SEED + 1);
      const unplugged = new Set(Array.from({ length: UNPLUGGED_NODES }, (_, i) => nodeName(i * 3)));
      const unpluggedAt = new Map<string, number>();
      /** When the label's removal was sent: no pod of the node may go before. */
      const unplugStarted = new Map<string, number>();
      /**
       * Flaps the API server held back: from sending the removal to the restore's answer took longer than the pod's
       * grace (device) or NFD outage grace (NFD), so the node may really have lacked the label for that long. A pod
       * of such a node deleted after the removal was sent is not a false deletion; each is reported.
       */
      const overran: Array<{ node: string; kind: 'device' | 'nfd'; removalSent: number; absentMs: number }> =
        [];
      const flap = async (node: string, kind: 'device' | 'nfd', ms: number, off: object, on: object) => {
        const removalSent = performance.now();
        await retrying(() => setNodeLabels(cp, node, off as Record<string, null>));
        await sleep(ms);
        await retrying(() => setNodeLabels(cp, node, on as Record<string, string>));
        const absentMs = performance.now() - removalSent;
        const grace = kind === 'device' ? GRACE_MS : settings.nfdOutageGracePeriodMs;
        if (absentMs >= grace) overran.push({ node, kind, removalSent, absentMs: Math.round(absentMs) });
      };
      const deletions = deletionWatch();
      const started = performance.now();
      const elapsed = () => performance.now() - started;
      /** A node's label changes never overlap, and a node rests for the grace period after each. */
      const busyUntil = new Map<string, number>();
      const flaps = { device: 0, nfd: 0 };
      const changes: Array<Promise<void>> = [];
      const errors: string[] = [];
      const change = (label: string, run: () => Promise<void>) =>
        changes.push(run().catch((e: Error) => void errors.push(`${label}: ${e.message}`)));

      proxy.setFaults(true);
      let apiServerDown = false;
      while (elapsed() < SOAK_MS) {
        const t = elapsed();
        // The API server goes away for 10 s in the middle of the run.
        if (!apiServerDown && t > SOAK_MS / 2) {
          apiServerDown = true;
          change('apiserver', async () => {
            await cp.stopApiServer();
            await sleep(10_000);
            await cp.startApiServer();
          });
        }
        for (const node of unplugged) {
          if (!unpluggedAt.has(node) && t > SOAK_MS * (0.2 + 0.2 * [...unplugged].indexOf(node))) {
            unpluggedAt.set(node, -1);
            unplugStarted.set(node, performance.now());
            change(`unplug ${node}`, async () => {
              await retrying(() => setNodeLabels(cp, node, { [USB]: null }));
              unpluggedAt.set(node, performance.now());
            });
          }
        }
        const node = nodeName(Math.floor(random() * NODES));
        if (!unplugged.has(node) && (busyUntil.get(node) ?? 0) < t) {
          if (random() < 0.8) {
            // A device label that disappears for less than the grace period.
            const ms = 300 + random() * 1_200;
            busyUntil.set(node, t + ms + GRACE_MS + 2_000);
            flaps.device++;
            change(`flap ${node}`, () => flap(node, 'device', ms, { [USB]: null }, { [USB]: 'true' }));
          } else {
            // An NFD worker restart: every NFD label gone for longer than the grace period.
            const ms = GRACE_MS + 2_000 + random() * 5_000;
            busyUntil.set(node, t + ms + GRACE_MS + 2_000);
            flaps.nfd++;
            change(`nfd ${node}`, () => flap(node, 'nfd', ms, withoutNfd, withNfd));
          }
        }
        await sleep(300 + random() * 700);
      }
      await Promise.all(changes);
      proxy.setFaults(false);
      const faultsEnded = performance.now();
      const soakMinutes = (faultsEnded - started) / 60_000;

      // A sidecar may be waiting out a stalled request (10 s) and then its longest backoff window (30 s) when the
      // faults end; after that it reads the node, waits the grace period and reads it once more.
      const bound = REQUEST_TIMEOUT_MS + BACKOFF.capMs + GRACE_MS + 2_000;
      const expected = sidecars.filter((s) => unplugged.has(s.pod.spec?.nodeName ?? ''));
      const deadline = faultsEnded + bound;
      while (
        performance.now() < deadline &&
        expected.some((s) => !deletions.deletedAt.has(s.pod.metadata?.name ?? ''))
      ) {
        await sleep(200);
      }
      // Room for a false deletion to show itself after the faults.
      await sleep(GRACE_MS + 2_000);
      await deletions.stop();

      const late = expected.map((s) => {
        const name = s.pod.metadata?.name ?? '';
        const node = s.pod.spec?.nodeName ?? '';
        const at = deletions.deletedAt.get(name);
        const due = Math.max(unpluggedAt.get(node) ?? 0, faultsEnded);
        return { name, afterDueMs: at === undefined ? Number.POSITIVE_INFINITY : Math.round(at - due) };
      });
      // Pods of matching nodes never go; pods of unplugged nodes never go before their device did; a flap the API
      // server held back for longer than the grace may count as an unplug from when its removal was sent.
      const falselyDeleted = sidecars
        .filter((s) => {
          const at = deletions.deletedAt.get(s.pod.metadata?.name ?? '');
          if (at === undefined) return false;
          const node = s.pod.spec?.nodeName ?? '';
          const started = unplugStarted.get(node);
          if (started !== undefined && at >= started) return false;
          return !overran.some((o) => o.node === node && o.removalSent <= at);
        })
        .map((s) => s.pod.metadata?.name ?? '');
      const perMinute = [...proxy.requestsByToken().values()].map((n) => n / soakMinutes);

      console.info(
        JSON.stringify(
          {
            soakSeconds: Math.round((faultsEnded - started) / 1_000),
            sidecars: sidecars.length,
            faults: proxy.faultCounts(),
            labelFlaps: flaps,
            flapsHeldBackByTheApiServer: overran.map((o) => `${o.kind} ${o.node}: ${o.absentMs} ms`),
            deletionsOfMatchingPods: falselyDeleted.length,
            deletionBoundMs: bound,
            unpluggedPodsDeleted: `${late.filter((l) => Number.isFinite(l.afterDueMs)).length}/${expected.length}`,
            deletionMsAfterUnplugOrFaultsEnd: late.map((l) => l.afterDueMs).sort((a, b) => a - b),
            requestsPerMinutePerSidecar: {
              mean: round(perMinute.reduce((a, b) => a + b, 0) / perMinute.length),
              max: round(Math.max(...perMinute)),
              bound: REQUESTS_PER_MIN_MAX,
            },
            changeErrors: errors,
          },
          null,
          2,
        ),
      );

      const logsOf = (names: string[]) =>
        sidecars
          .filter((s) => names.includes(s.pod.metadata?.name ?? ''))
          .slice(0, 2)
          .map(
            (s) =>
              `${s.pod.metadata?.name}:\n${s.logs
                .slice(-25)
                .map((l) => JSON.stringify(l))
                .join('\n')}`,
          )
          .join('\n');
      const lateNames = late.filter((l) => l.afterDueMs > bound).map((l) => l.name);
      if (lateNames.length > 0 || falselyDeleted.length > 0)
        console.info(logsOf([...lateNames, ...falselyDeleted]));
      expect(falselyDeleted, 'pods deleted although their node still matches').toEqual([]);
      for (const l of late) expect(l.afterDueMs, `${l.name} deleted late`).toBeLessThanOrEqual(bound);
      expect(perMinute.length).toBe(sidecars.length);
      // The first minute of faults is a burst by design (backoff windows start at 800 ms): the rate is held to its
      // bound over a run long enough to show the steady state, as in `npm test` (a shortened run only prints it).
      if (SOAK_MS >= 180_000) expect(Math.max(...perMinute)).toBeLessThan(REQUESTS_PER_MIN_MAX);
      // Short flaps and NFD restarts really happened: the run tested them, not only flaps that became unplugs.
      expect(flaps.device - overran.filter((o) => o.kind === 'device').length).toBeGreaterThan(0);
      expect(flaps.nfd - overran.filter((o) => o.kind === 'nfd').length).toBeGreaterThan(0);
    },
    SOAK_MS + 600_000,
  );
});

const round = (n: number) => Math.round(n * 10) / 10;

/** Label changes go straight to the API server (not through the proxy), which may be down for a while. */
async function retrying(run: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await run();
      return;
    } catch (e) {
      if (i >= 100) throw e;
      await sleep(200);
    }
  }
}
