/**
 * The label source, for real: node-feature-discovery on the real node, deployed from its own kustomize overlay
 * with deploy/nfd on top, its image built from the Go module proxy. Both device routes end to end:
 * - udev: the rules of `sidecar-destruct udev --nfd` and udev/nfd-feature, installed where the README installs
 *   them and run as udevd runs them, write the host's features.d, which NFD's worker mounts;
 * - usb source: NFD's own usb source reads a fake USB device tree (this machine has no USB bus).
 * Then what must never cause a deletion: a stick that re-enumerates, and NFD's own restarts. Linux and root, as
 * the real-node suite; SIDECAR_DESTRUCT_REAL_NODE=0 skips both.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_SETTINGS } from '@sidecar-destruct/core';
import {
  buildNfd,
  buildRealNode,
  deployNfd,
  type FakeUsbDevice,
  NFD_NAMESPACE,
  NFD_UPGRADE_TO,
  NFD_VERSION,
  type NfdBuild,
  type NfdHost,
  nfdKustomization,
  nfdLabels,
  plugFakeUsb,
  prepareNfdHost,
  type RealNodeBuild,
  udevEvent,
  unplugFakeUsb,
  ZIGBEE_STICK,
} from '@sidecar-destruct/infra';
import {
  apply,
  type LabelSnapshot,
  type NodeWatch,
  readManifests,
  SIDECAR_CONTAINER,
  watchNode,
} from '@sidecar-destruct/testkit';
import { deviceRules, NFD_HELPER } from '@sidecar-destruct/udev';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enabledNamespace,
  eventsOf,
  eventually,
  expectStatus,
  type RealNodeCluster,
  realNodeCluster,
  realNodeLeft,
  USB,
} from './fixtures.js';

const SKIP = process.env.SIDECAR_DESTRUCT_REAL_NODE === '0';
const REAL = 'pi-kitchen';
const NS = 'home';
/** What the udev route labels: `sidecar-destruct udev --name zigbee --nfd`. */
const ZIGBEE = 'feature.node.kubernetes.io/zigbee';
const RULES = (() => {
  const { vendor, product } = ZIGBEE_STICK;
  const rules = deviceRules({ vendor, product, name: 'zigbee', nfd: true });
  if (!rules.ok) throw new Error(rules.error.join('; '));
  return rules.value;
})();
/** The same stick as NFD's usb source sees it in sysfs: class ff, 10c4:ea60. */
const FAKE_STICK: FakeUsbDevice = {
  port: '1-1',
  deviceClass: 'ff',
  vendor: ZIGBEE_STICK.vendor,
  product: ZIGBEE_STICK.product,
};
/** The udev route's bound: a label change on the node within 3 s of the udev event (NFD's master ticks each 1 s). */
const LABEL_BOUND_MS = 3_000;
const DEFAULT_GRACE_MS = DEFAULT_SETTINGS.gracePeriodMs;
/** Set when a looping test fails (a timeout too) or the suite ends: its loop stops sending udev events. */
let aborted = false;

let build: RealNodeBuild;
let nfd: NfdBuild;
let next: NfdBuild;
let cluster: RealNodeCluster;
let watch: NodeWatch;
let kustomization: string;
let fakeSysfs: string;
let host: NfdHost | undefined;
const figures: string[] = [];

function figure(text: string): void {
  figures.push(text);
  console.log(`[nfd] ${text}`);
}

const zigbeeOn = (labels: Readonly<Record<string, string>>) => labels[ZIGBEE] === 'true';
const zigbeeOff = (labels: Readonly<Record<string, string>>) => labels[ZIGBEE] === undefined;
const usbOn = (labels: Readonly<Record<string, string>>) => labels[USB] === 'true';
const usbOff = (labels: Readonly<Record<string, string>>) => labels[USB] === undefined;

/** A udev event for the stick, run through the rules as udevd runs them (the NFD helper; /dev is left alone). */
function udev(action: 'add' | 'remove'): Promise<number> {
  return udevEvent(RULES, action, ZIGBEE_STICK, (program) => program === NFD_HELPER);
}

beforeAll(async () => {
  if (SKIP) return;
  [build, nfd, next] = [await buildRealNode(), await buildNfd(), await buildNfd(NFD_UPGRADE_TO)];
  host = await prepareNfdHost();
  fakeSysfs = host.fakeSysfs;
  cluster = await realNodeCluster(REAL, { ...build, images: [...build.images, nfd.archive, next.archive] });
  watch = watchNode(cluster.cp, REAL);
  kustomization = await nfdKustomization(nfd, fakeSysfs);
  const t0 = performance.now();
  await deployNfd(cluster.cp, kustomization, REAL);
  figure(
    `NFD ${nfd.version} applied -> first NFD labels on the node: ${Math.round(performance.now() - t0)} ms`,
  );
  await enabledNamespace(cluster.cp, NS);
}, 1_800_000);

afterAll(async () => {
  aborted = true;
  if (SKIP) return;
  watch?.stop();
  await cluster?.webhook.stop();
  await cluster?.node.stop();
  await cluster?.cp.stop();
  await host?.undo();
  const left = await realNodeLeft(cluster?.node);
  if (left.length > 0) throw new Error(`the NFD suite left state on the host:\n${left.join('\n')}`);
  console.log(`[nfd] figures:\n  ${figures.join('\n  ')}`);
}, 120_000);

/** The example Deployment, unmodified, or pinned to another label. */
async function zigbeeDeployment(name: string, selector?: string): Promise<void> {
  const [deployment] = await readManifests('examples/zigbee2mqtt.yaml');
  const copy = structuredClone(deployment) as {
    metadata: { name: string; namespace?: string };
    spec: { template: { spec: { nodeSelector: Record<string, string> } } };
  };
  copy.metadata = { ...copy.metadata, name, namespace: NS };
  if (selector) copy.spec.template.spec.nodeSelector = { [selector]: 'true' };
  await apply(cluster.cp, [copy as never]);
}

async function deploymentPods(name: string): Promise<V1Pod[]> {
  const list = await expectStatus(cluster.cp.rest('GET', `/api/v1/namespaces/${NS}/pods`), 200);
  return (list.items as V1Pod[]).filter((p) => p.metadata?.name?.startsWith(`${name}-`));
}

/** The Deployment's one pod, Ready on the real node. */
async function readyPod(name: string, timeoutMs = 90_000): Promise<V1Pod> {
  return eventually(async () => {
    const pods = (await deploymentPods(name)).filter((p) => !p.metadata?.deletionTimestamp);
    expect(pods.map((p) => p.spec?.nodeName)).toEqual([REAL]);
    const pod = pods[0] as V1Pod;
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    return pod;
  }, timeoutMs);
}

/** The replacement the scheduler cannot place: Pending, PodScheduled False (Unschedulable). */
async function pendingReplacement(name: string, gone: string): Promise<V1Pod> {
  return eventually(async () => {
    const pods = (await deploymentPods(name)).filter((p) => p.metadata?.uid !== gone);
    const pod = pods[0] as V1Pod;
    expect(pods).toHaveLength(1);
    expect(pod.spec?.nodeName).toBeUndefined();
    expect(pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.reason).toBe('Unschedulable');
    return pod;
  }, 60_000);
}

async function deleteDeployment(name: string): Promise<void> {
  await expectStatus(
    cluster.cp.rest(
      'DELETE',
      `/apis/apps/v1/namespaces/${NS}/deployments/${name}?propagationPolicy=Foreground`,
    ),
    200,
    202,
  );
  await eventually(async () => expect(await deploymentPods(name)).toEqual([]), 60_000);
}

/** The pod is still there, the same one, not being deleted, and its sidecar reported no loss. */
async function expectUntouched(pod: V1Pod): Promise<void> {
  const got = await expectStatus(
    cluster.cp.rest('GET', `/api/v1/namespaces/${NS}/pods/${pod.metadata?.name}`),
    200,
  );
  expect(got.metadata.uid).toBe(pod.metadata?.uid);
  expect(got.metadata.deletionTimestamp).toBeUndefined();
  const reasons = (await eventsOf(cluster.cp, NS, pod.metadata?.uid ?? '')).map((e) => e.reason);
  expect(reasons).not.toContain('NodeConstraintLost');
}

/** The sidecar's decisions, from its container log on the node. */
async function sidecarDecisions(pod: V1Pod): Promise<string[]> {
  const dir = join(cluster.node.dir, 'pod-logs', `${NS}_${pod.metadata?.name}_${pod.metadata?.uid}`);
  const log = await readFile(join(dir, SIDECAR_CONTAINER, '0.log'), 'utf8');
  expect(log).toContain('"watching the node"');
  return [...log.matchAll(/"decision":"([a-z-]+)"/g)].map((m) => m[1] ?? '');
}

/** Waits until the sidecar has seen the node match again after every loss it saw: nothing is pending. */
async function sidecarSettled(pod: V1Pod): Promise<string[]> {
  return eventually(async () => {
    const decisions = await sidecarDecisions(pod);
    const lost = decisions.filter((d) => d === 'mismatch' || d === 'nfd-outage').length;
    expect(decisions.filter((d) => d === 'restored').length).toBe(lost);
    expect(decisions).not.toContain('act');
    return decisions;
  }, 30_000);
}

/** How long each stretch lasted in which `off` held, between two instants of the watch's history. */
function gaps(
  history: readonly LabelSnapshot[],
  from: number,
  to: number,
  off: (l: Record<string, string>) => boolean,
): number[] {
  const found: number[] = [];
  let start: number | undefined;
  for (const s of history.filter((h) => h.at >= from && h.at <= to)) {
    if (off(s.labels) && start === undefined) start = s.at;
    if (!off(s.labels) && start !== undefined) {
      found.push(s.at - start);
      start = undefined;
    }
  }
  if (start !== undefined) found.push(to - start);
  return found;
}

function summary(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
  return `p50 ${Math.round(p50)} ms, max ${Math.round(sorted.at(-1) ?? Number.NaN)} ms (n = ${sorted.length})`;
}

/** Two busy loops, one per core of this machine, until stopped (or for 15 minutes at most, if this process dies). */
function cpuLoad(): () => void {
  const loops = [0, 1].map(() =>
    spawn('timeout', ['900', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }),
  );
  return () => {
    for (const loop of loops) loop.kill('SIGKILL');
  };
}

describe.skipIf(SKIP)('node-feature-discovery on the real node', () => {
  it('labels the node from its own sources, with deploy/nfd in force, from the image built here', async () => {
    const labels = await nfdLabels(cluster.cp, REAL);
    expect(Object.keys(labels).some((k) => k.startsWith('feature.node.kubernetes.io/kernel-version.'))).toBe(
      true,
    );
    const maps = await expectStatus(
      cluster.cp.rest('GET', `/api/v1/namespaces/${NFD_NAMESPACE}/configmaps`),
      200,
    );
    const conf = (maps.items as Array<{ metadata: { name: string }; data?: Record<string, string> }>).find(
      (m) => m.metadata.name.startsWith('nfd-worker-conf'),
    );
    expect(conf?.data?.['nfd-worker.conf']).toContain(
      'deviceClassWhitelist: ["02", "03", "0e", "ef", "fe", "ff"]',
    );
    const pods = await expectStatus(cluster.cp.rest('GET', `/api/v1/namespaces/${NFD_NAMESPACE}/pods`), 200);
    const images = (pods.items as V1Pod[]).map(
      (p) =>
        `${p.metadata?.name?.split('-').slice(0, 2).join('-')} ${p.spec?.containers[0]?.image} ${p.status?.phase}`,
    );
    const image = `registry.k8s.io/nfd/node-feature-discovery:${nfd.version}`;
    expect(images).toEqual(
      expect.arrayContaining([`nfd-master ${image} Running`, `nfd-worker ${image} Running`]),
    );
  });
});

describe.skipIf(SKIP)('the udev route: rules and helper -> features.d -> NFD -> the node', () => {
  it('unplug deletes the pod; the replacement stays Pending until the stick is back, then runs', async () => {
    const plugged = performance.now();
    await udev('add');
    figure(
      `udev route, first plug-in -> label: ${Math.round((await watch.first(zigbeeOn, plugged)).at - plugged)} ms`,
    );
    await zigbeeDeployment('zigbee-udev', ZIGBEE);
    const pod = await readyPod('zigbee-udev');

    const unplugged = performance.now();
    await udev('remove');
    const off = await watch.first(zigbeeOff, unplugged, LABEL_BOUND_MS);
    const replacement = await pendingReplacement('zigbee-udev', pod.metadata?.uid ?? '');
    const reasons = (await eventsOf(cluster.cp, NS, pod.metadata?.uid ?? '')).map((e) => e.reason);
    expect(reasons).toContain('NodeConstraintLost');
    figure(
      `udev route, unplug -> label gone ${Math.round(off.at - unplugged)} ms; replacement Pending (Unschedulable)`,
    );

    const back = performance.now();
    await udev('add');
    await watch.first(zigbeeOn, back, LABEL_BOUND_MS);
    const running = await readyPod('zigbee-udev');
    expect(running.metadata?.uid).toBe(replacement.metadata?.uid);
  }, 300_000);

  it('20 re-enumerations (remove, add 0.2 s later) at the default grace delete nothing', async ({
    onTestFailed,
  }) => {
    onTestFailed(() => {
      aborted = true;
    });
    const pod = await readyPod('zigbee-udev');
    const from = performance.now();
    const back: number[] = [];
    for (let i = 0; i < 20 && !aborted; i++) {
      const removedAt = performance.now();
      const removed = udev('remove');
      await sleep(200); // a USB reset: the tty goes and comes back 0.2 s later; udevd runs the add after the remove
      const added = performance.now();
      await Promise.all([removed, udev('add')]);
      // udevd runs the add only once the remove's helper is done: the label always goes, then comes back.
      const off = await watch.first(zigbeeOff, removedAt, 10_000);
      back.push((await watch.first(zigbeeOn, off.at, 10_000)).at - added);
    }
    const decisions = await sidecarSettled(pod);
    await expectUntouched(pod);
    const seen = gaps(watch.history, from, performance.now(), zigbeeOff);
    figure(
      `20 re-enumerations: label back ${summary(back)} after the add's udev event; label gaps on the node ${summary(seen)}; ` +
        `the sidecar saw ${decisions.filter((d) => d === 'mismatch').length} mismatches in all, each restored in its grace`,
    );
    // The re-enumerations take the label off (the sidecar sees it go), never for as long as the default grace: on
    // a loaded machine two re-enumerations can run into one longer gap, which the grace must still cover.
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen)).toBeLessThan(DEFAULT_GRACE_MS);
  }, 300_000);

  it('100 plug/unplug cycles, the last 50 under CPU load: every label change within 3 s of the udev event', async ({
    onTestFailed,
  }) => {
    onTestFailed(() => {
      aborted = true;
    });
    await deleteDeployment('zigbee-udev');
    const samples = {
      add: { idle: [] as number[], load: [] as number[] },
      remove: { idle: [] as number[], load: [] as number[] },
    };
    let stopLoad: (() => void) | undefined;
    try {
      for (let i = 0; i < 100 && !aborted; i++) {
        if (i === 50) stopLoad = cpuLoad();
        const phase = i < 50 ? 'idle' : 'load';
        for (const [action, holds] of [
          ['remove', zigbeeOff],
          ['add', zigbeeOn],
        ] as const) {
          const at = performance.now();
          const [, changed] = await Promise.all([udev(action), watch.first(holds, at, LABEL_BOUND_MS)]);
          samples[action][phase].push(changed.at - at);
        }
      }
    } finally {
      stopLoad?.();
    }
    expect(samples.add.idle.length + samples.add.load.length).toBe(100);
    for (const action of ['add', 'remove'] as const) {
      figure(
        `udev route, ${action === 'add' ? 'plug-in' : 'unplug'} -> label: idle ${summary(samples[action].idle)}; under load ${summary(samples[action].load)}`,
      );
    }
  }, 1_200_000);
});

/** The nfd-worker process's CPU time so far, in seconds (utime + stime at the kernel's 100 ticks a second). */
async function workerCpuSeconds(): Promise<number> {
  for (const entry of await readdir('/proc')) {
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.startsWith('nfd-worker\0')) continue;
    const fields = (await readFile(`/proc/${entry}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }
  throw new Error('no nfd-worker process');
}

/** The worker's own figure for its full scans: nfd_worker_feature_discovery_duration_seconds, sum and count. */
async function scanDurations(): Promise<{ sum: number; count: number }> {
  const [worker] = await nfdPods('nfd-worker-');
  const text = await (await fetch(`http://${worker?.status?.podIP}:8080/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
  return {
    sum: value('nfd_worker_feature_discovery_duration_seconds_sum'),
    count: value('nfd_worker_feature_discovery_duration_seconds_count'),
  };
}

describe.skipIf(SKIP)("the usb-source route: NFD's own usb source, at deploy/nfd's sleepInterval", () => {
  it('labels a plugged class-ff 10c4:ea60 stick and unlabels it; the unmodified example follows it', async () => {
    const { plugIn, unplug } = { plugIn: [] as number[], unplug: [] as number[] };
    const [cpu0, scans0, start] = [await workerCpuSeconds(), await scanDurations(), performance.now()];
    let t = performance.now();
    await plugFakeUsb(fakeSysfs, FAKE_STICK);
    plugIn.push((await watch.first(usbOn, t, 120_000)).at - t);
    await zigbeeDeployment('zigbee2mqtt');
    const pod = await readyPod('zigbee2mqtt');

    t = performance.now();
    await unplugFakeUsb(fakeSysfs, FAKE_STICK.port);
    unplug.push((await watch.first(usbOff, t, 120_000)).at - t);
    const replacement = await pendingReplacement('zigbee2mqtt', pod.metadata?.uid ?? '');

    t = performance.now();
    await plugFakeUsb(fakeSysfs, FAKE_STICK);
    plugIn.push((await watch.first(usbOn, t, 120_000)).at - t);
    expect((await readyPod('zigbee2mqtt')).metadata?.uid).toBe(replacement.metadata?.uid);
    figure(`usb-source route: plug-in -> label ${summary(plugIn)}; unplug -> label gone ${summary(unplug)}`);
    const [cpu1, scans1, minutes] = [
      await workerCpuSeconds(),
      await scanDurations(),
      (performance.now() - start) / 60_000,
    ];
    const scans = scans1.count - scans0.count;
    expect(scans).toBeGreaterThan(0);
    figure(
      `nfd-worker meanwhile: ${scans} full scans, ${(((scans1.sum - scans0.sum) / scans) * 1000).toFixed(0)} ms each on average (its own histogram); ` +
        `${((cpu1 - cpu0) / minutes).toFixed(2)} CPU-seconds a minute (this machine's ${cpus().length} cores)`,
    );
    await deleteDeployment('zigbee2mqtt');
  }, 600_000);
});

/** NFD's own pods in its namespace whose name starts with `prefix`, not being deleted. */
async function nfdPods(prefix: string): Promise<V1Pod[]> {
  const list = await expectStatus(cluster.cp.rest('GET', `/api/v1/namespaces/${NFD_NAMESPACE}/pods`), 200);
  return (list.items as V1Pod[]).filter(
    (p) => p.metadata?.name?.startsWith(prefix) && !p.metadata.deletionTimestamp,
  );
}

/** A new pod of NFD's (not `old`), Ready. */
async function replacedAndReady(prefix: string, old: string | undefined): Promise<void> {
  await eventually(async () => {
    const pods = (await nfdPods(prefix)).filter((p) => p.metadata?.uid !== old);
    expect(pods.map((p) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status)).toEqual(['True']);
  }, 180_000);
}

/** Deletes NFD's pod whose name starts with `prefix` and waits until its controller's replacement is Ready. */
async function restartNfdPod(prefix: string): Promise<void> {
  const [old] = await nfdPods(prefix);
  await expectStatus(
    cluster.cp.rest('DELETE', `/api/v1/namespaces/${NFD_NAMESPACE}/pods/${old?.metadata?.name}`),
    200,
  );
  await replacedAndReady(prefix, old?.metadata?.uid);
}

/** Every NFD label the node had before is back, the stick's included. */
async function labelsBack(before: Record<string, string>): Promise<void> {
  await eventually(async () => expect(await nfdLabels(cluster.cp, REAL)).toMatchObject(before), 300_000);
}

const noNfdLabel = (labels: Readonly<Record<string, string>>) =>
  !Object.keys(labels).some((k) => k.startsWith('feature.node.kubernetes.io/'));

describe.skipIf(SKIP)("NFD's own disruptions, at the default grace periods: no false deletion", () => {
  let pod: V1Pod;
  let before: Record<string, string>;

  /** Runs a disruption with the protected pod running; `act` may return when NFD was whole again, if it knows. */
  async function disrupt(what: string, act: () => Promise<number | undefined>): Promise<void> {
    const from = performance.now();
    const earlier = (await sidecarDecisions(pod)).length;
    const whole = await act();
    await labelsBack(before);
    const decisions = (await sidecarSettled(pod)).slice(earlier);
    await expectUntouched(pod);
    const to = whole ?? performance.now();
    const stick = gaps(watch.history, from, to, zigbeeOff);
    const all = gaps(watch.history, from, to, noNfdLabel);
    figure(
      `${what}: the stick's label gone ${stick.length ? summary(stick) : 'never'}; every NFD label gone ${all.length ? summary(all) : 'never'}; ` +
        `sidecar decisions: ${decisions.join(', ') || 'none'}; back to all labels in ${Math.round(to - from)} ms`,
    );
  }

  beforeAll(async () => {
    if (SKIP) return;
    const plugged = performance.now();
    await udev('add');
    await watch.first(zigbeeOn, plugged);
    await zigbeeDeployment('zigbee-nfd', ZIGBEE);
    pod = await readyPod('zigbee-nfd');
    before = await nfdLabels(cluster.cp, REAL);
  }, 180_000);

  it('the worker pod deleted (its DaemonSet recreates it)', async () => {
    await disrupt('worker pod deleted', async () => {
      await restartNfdPod('nfd-worker-');
    });
  }, 600_000);

  it("NFD's DaemonSet deleted and applied again", async () => {
    await disrupt('worker DaemonSet deleted and applied again', async () => {
      await cluster.cp.kubectl(['delete', 'daemonset', 'nfd-worker', '-n', NFD_NAMESPACE, '--wait=true']);
      await eventually(async () => expect(await nfdPods('nfd-worker-')).toEqual([]), 120_000);
      await cluster.cp.kubectl(['apply', '-k', kustomization]);
      await replacedAndReady('nfd-worker-', undefined);
    });
  }, 600_000);

  it(`NFD upgraded from ${NFD_VERSION} to ${NFD_UPGRADE_TO} with kubectl apply -k`, async () => {
    await disrupt(`upgrade ${NFD_VERSION} -> ${NFD_UPGRADE_TO}`, async () => {
      await cluster.cp.kubectl(['apply', '-k', await nfdKustomization(next, fakeSysfs)]);
      const image = `registry.k8s.io/nfd/node-feature-discovery:${NFD_UPGRADE_TO}`;
      await eventually(async () => {
        const pods = [...(await nfdPods('nfd-worker-')), ...(await nfdPods('nfd-master-'))];
        expect(
          pods.map(
            (p) =>
              `${p.spec?.containers[0]?.image} ${p.status?.conditions?.find((c) => c.type === 'Ready')?.status}`,
          ),
        ).toEqual([`${image} True`, `${image} True`]);
      }, 300_000);
    });
    kustomization = await nfdKustomization(next, fakeSysfs);
  }, 900_000);

  it('nfd-master restarted', async () => {
    await disrupt('nfd-master pod deleted (its Deployment recreates it)', async () => {
      await restartNfdPod('nfd-master-');
      // The new master has the lease and labels again: an unplug and a plug-in go through it (their own label gap
      // is not the restart's).
      const whole = performance.now();
      const removed = performance.now();
      await Promise.all([udev('remove'), watch.first(zigbeeOff, removed, 60_000)]);
      const added = performance.now();
      await Promise.all([udev('add'), watch.first(zigbeeOn, added, 60_000)]);
      return whole;
    });
  }, 600_000);
});
