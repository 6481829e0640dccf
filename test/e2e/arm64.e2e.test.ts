/**
 * The images as users pull them, on the architecture of a Raspberry Pi: every platform of both image indexes
 * holds binaries of its own architecture, and the arm64 images' own runtimes and bundles, run under Debian's
 * qemu-user with the image's root filesystem (`qemu-aarch64-static -L ROOTFS`, the image's entrypoint as it
 * stands; no binfmt handler is registered on the host), do their job against a real kube-apiserver: the sidecar
 * watches its node, does not act on a mismatch the node takes back, deletes its pod on one that lasts and exits 0
 * on SIGTERM; the webhook injects a pod created through the API server. The sidecar image also boots as a whole
 * arm64 VM with a 16K-page kernel. Slower under emulation; never different.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SETTINGS, type Rule, SIDECAR_CONTAINER } from '@sidecar-destruct/core';
import {
  arm64VmCommand,
  ELF_MACHINE,
  elfMachine,
  ImageArchive,
  type ImageConfig,
  qemuAarch64,
  type RunningWebhook,
  type ShippedImage,
  shippedImages,
  startWebhook,
  VM_HOST_ADDRESS,
  vm16kAssets,
} from '@sidecar-destruct/infra';
import {
  type ControlPlane,
  type FaultProxy,
  type RunningSidecar,
  startControlPlane,
  startFaultProxy,
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

/** SIDECAR_DESTRUCT_ARM64=0 says to skip this suite where Debian's apt is not there to fetch the emulator (CI never sets it). */
const SKIP = process.env.SIDECAR_DESTRUCT_ARM64 === '0';

let work: string;
let images: Readonly<Record<'sidecar' | 'webhook', ShippedImage>>;
let qemu: string;

/** One platform of a shipped image, unpacked: its root filesystem and config. */
async function unpacked(image: ShippedImage, name: string, architecture: string) {
  const archive = await ImageArchive.open(image.archive, join(work, `${name}-layout`));
  const platform = (await archive.platforms()).find((p) => p.architecture === architecture);
  if (!platform) throw new Error(`${image.name} has no ${architecture} platform`);
  const rootfs = join(work, `${name}-${architecture}`);
  await archive.unpack(platform, rootfs);
  return { rootfs, config: await archive.config(platform) };
}

/**
 * The image's entrypoint (and command), run by qemu-user with the image's root filesystem as its prefix for the
 * dynamic loader and libraries. qemu-user does not translate every path a program stats (Node's module loader
 * stats its script), so the entrypoint's paths into the image are given as the unpacked files.
 */
const underQemu = (rootfs: string, config: ImageConfig, withCmd = false): string[] => {
  const argv = [...(config.config.Entrypoint ?? []), ...(withCmd ? (config.config.Cmd ?? []) : [])];
  if (argv.length === 0) throw new Error('the image has no entrypoint');
  return [
    qemu,
    '-L',
    rootfs,
    ...argv.map((a) => (a.startsWith('/') && existsSync(join(rootfs, a)) ? join(rootfs, a) : a)),
  ];
};

beforeAll(async () => {
  if (SKIP) return;
  work = await mkdtemp(join(tmpdir(), 'sidecar-destruct-arm64-'));
  images = await shippedImages();
  qemu = await qemuAarch64();
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Each image's runtime: Bun runs the sidecar, Node the webhook. */
const RUNTIME = { sidecar: 'usr/local/bin/bun', webhook: 'usr/local/bin/node' } as const;

describe.skipIf(SKIP)('the image indexes', () => {
  it.each(['sidecar', 'webhook'] as const)(
    '%s: every platform holds binaries of its architecture, and its config says so',
    async (name) => {
      const archive = await ImageArchive.open(images[name].archive, join(work, `${name}-index`));
      const platforms = await archive.platforms();
      expect(platforms.map((p) => `${p.os}/${p.architecture}`).sort()).toEqual([
        'linux/amd64',
        'linux/arm64',
      ]);
      for (const platform of platforms) {
        const config = await archive.config(platform);
        expect(config).toMatchObject({ architecture: platform.architecture, os: 'linux' });
        const rootfs = join(work, `${name}-elf-${platform.architecture}`);
        await archive.unpack(platform, rootfs);
        const machine = ELF_MACHINE[platform.architecture];
        expect(await elfMachine(join(rootfs, RUNTIME[name]))).toBe(machine);
        // The C library the runtime loads, from Debian's package of the same architecture.
        const libc = (await readdir(join(rootfs, 'usr/lib'), { recursive: true })).find((f) =>
          f.endsWith('/libc.so.6'),
        );
        expect(libc, `no libc.so.6 in the ${platform.architecture} image`).toBeDefined();
        expect(await elfMachine(join(rootfs, 'usr/lib', libc as string))).toBe(machine);
      }
    },
  );
});

describe.skipIf(SKIP)('the arm64 sidecar image, under qemu-user', () => {
  const NS = 'home';
  const rule: Rule = { source: 'pod', nodeSelector: { [USB]: 'true' } };
  let cp: ControlPlane;
  let command: string[];
  const running: RunningSidecar[] = [];

  beforeAll(async () => {
    const { rootfs, config } = await unpacked(images.sidecar, 'sidecar', 'arm64');
    command = underQemu(rootfs, config);
    cp = await startControlPlane();
    await sidecarNamespace(cp, NS);
    await createNode(cp, 'pi5', { [USB]: 'true', 'kubernetes.io/arch': 'arm64' });
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    await cp?.stop();
  });

  async function sidecarOf(name: string, gracePeriodMs: number, options: { apiServer?: FaultProxy } = {}) {
    const settings = { ...DEFAULT_SETTINGS, gracePeriodMs };
    const pod = await createPod(cp, NS, podWithSidecar(name, 'pi5', rule, settings));
    const proxy = options.apiServer;
    const sidecar = await startSidecar(cp, NS, name, {
      command,
      ...(proxy ? { apiServer: { host: proxy.host, port: proxy.port, caPem: proxy.caPem } } : {}),
    });
    expect(sidecar.child.spawnfile).toBe(qemu);
    running.push(sidecar);
    // Emulation makes the start slow (the JIT-less interpreter under qemu): state, not time, is what is awaited.
    await sidecar.waitForLog((l) => l.msg === 'watching the node', 120_000);
    return { uid: pod.metadata?.uid ?? '', sidecar };
  }

  /** The pod is not being deleted and the sidecar never acted; then it exits 0 on SIGTERM. */
  async function leftAloneThenStopped(name: string, sidecar: RunningSidecar): Promise<void> {
    const pod = await expectStatus(cp.rest('GET', `/api/v1/namespaces/${NS}/pods/${name}`), 200);
    expect(pod.metadata.deletionTimestamp).toBeUndefined();
    expect(sidecar.logs.filter((l) => l.decision === 'act')).toEqual([]);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  }

  it('does not act on a mismatch the node takes back, and exits 0 on SIGTERM', async () => {
    const { sidecar } = await sidecarOf('z2m-flap', 600_000);
    await setNodeLabels(cp, 'pi5', { [USB]: null });
    await sidecar.waitForLog((l) => l.decision === 'mismatch', 60_000);
    await setNodeLabels(cp, 'pi5', { [USB]: 'true' });
    await sidecar.waitForLog((l) => l.decision === 'restored', 60_000);
    await leftAloneThenStopped('z2m-flap', sidecar);
  });

  it('does not act on events replayed after a reconnect: the label went and came back while it was cut off', async () => {
    const proxy = await startFaultProxy({
      target: { url: cp.server, caPem: await readFile(cp.caFile, 'utf8') },
      seed: 1,
      mix: { reset: 1, stall: 0, error500: 0, throttle429: 0, gone410: 0, truncate: 0, unauthorized401: 0 },
      maxWatchMs: 60_000,
    });
    try {
      const { sidecar } = await sidecarOf('z2m-replay', 0, { apiServer: proxy });
      // Cut off: the watch drops and every reconnect is reset, while the node loses the label and gets it back.
      proxy.setFaults(true);
      proxy.dropConnections();
      await sidecar.waitForLog((l) => l.msg.startsWith('cannot observe the node'), 60_000);
      await setNodeLabels(cp, 'pi5', { [USB]: null });
      await setNodeLabels(cp, 'pi5', { [USB]: 'true' });
      proxy.setFaults(false);
      // The watch resumes from its last resourceVersion: the server replays the removal, then the return.
      await sidecar.waitForLog((l) => l.decision === 'restored', 120_000);
      await leftAloneThenStopped('z2m-replay', sidecar);
    } finally {
      await proxy.stop();
    }
  });

  it('deletes its pod when the label goes for good, and records why', async () => {
    const { uid, sidecar } = await sidecarOf('z2m-gone', 0);
    await setNodeLabels(cp, 'pi5', { [USB]: null });
    await podGone(cp, NS, 'z2m-gone', uid, 120_000);
    // The Event is sent just before the delete; with grace 0 the pod can be gone before it lands.
    await eventually(async () => {
      expect(await eventsOf(cp, NS, uid)).toEqual([
        expect.objectContaining({ reason: 'NodeConstraintLost' }),
      ]);
    }, 30_000);
    await sidecar.waitForLog((l) => l.msg === 'done; waiting for termination', 60_000);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
    await setNodeLabels(cp, 'pi5', { [USB]: 'true' });
  });
});

/**
 * The Raspberry Pi 5 boots a 16K-page kernel by default; qemu-user above runs with this machine's 4K pages. Here the
 * arm64 sidecar image's root filesystem boots as a whole VM on Debian's arm64-16k kernel under qemu-system-aarch64
 * (software emulation; the sidecar runs as root there: busybox, the VM's init, cannot switch users) and does its
 * job against the real API server, reached through qemu's user-mode network.
 */
describe.skipIf(SKIP)('the arm64 sidecar image, on a 16K-page kernel (qemu-system-aarch64)', () => {
  const NS = 'home';
  const rule: Rule = { source: 'pod', nodeSelector: { [USB]: 'true' } };
  let cp: ControlPlane;
  let proxy: FaultProxy;
  let command: string[];
  const running: RunningSidecar[] = [];

  beforeAll(async () => {
    const assets = await vm16kAssets();
    const { rootfs, config } = await unpacked(images.sidecar, 'sidecar-16k', 'arm64');
    command = arm64VmCommand(assets, rootfs, [
      ...(config.config.Entrypoint ?? []),
      ...(config.config.Cmd ?? []),
    ]);
    cp = await startControlPlane();
    await sidecarNamespace(cp, NS);
    await createNode(cp, 'pi5-16k', { [USB]: 'true', 'kubernetes.io/arch': 'arm64' });
    // Faults off: a plain TLS relay whose certificate names the address the guest reaches this machine at.
    proxy = await startFaultProxy({
      target: { url: cp.server, caPem: await readFile(cp.caFile, 'utf8') },
      seed: 1,
      mix: { reset: 0, stall: 0, error500: 0, throttle429: 0, gone410: 0, truncate: 0, unauthorized401: 0 },
      maxWatchMs: 3_600_000,
      alsoAt: [VM_HOST_ADDRESS],
    });
  }, 600_000);
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    await proxy?.stop();
    await cp?.stop();
  });

  it('boots with 16K pages, watches its node and deletes its pod when the label goes', async () => {
    const pod = await createPod(
      cp,
      NS,
      podWithSidecar('z2m-16k', 'pi5-16k', rule, { ...DEFAULT_SETTINGS, gracePeriodMs: 0 }),
    );
    const sidecar = await startSidecar(cp, NS, 'z2m-16k', {
      command,
      apiServer: { host: VM_HOST_ADDRESS, port: proxy.port, caPem: proxy.caPem },
    });
    running.push(sidecar);
    const booted = await sidecar.waitForLog((l) => l.msg.startsWith('vm: page size'), 300_000);
    expect(booted.msg).toMatch(/^vm: page size 16 kB, kernel .*-16k$/);
    await sidecar.waitForLog((l) => l.msg === 'watching the node', 300_000);
    await setNodeLabels(cp, 'pi5-16k', { [USB]: null });
    await podGone(cp, NS, 'z2m-16k', pod.metadata?.uid ?? '', 300_000);
    await eventually(async () => {
      expect(await eventsOf(cp, NS, pod.metadata?.uid ?? '')).toEqual([
        expect.objectContaining({ reason: 'NodeConstraintLost' }),
      ]);
    }, 60_000);
    await sidecar.waitForLog((l) => l.msg === 'done; waiting for termination', 120_000);
  }, 900_000);
});

describe.skipIf(SKIP)('the arm64 webhook image, under qemu-user', () => {
  let cp: ControlPlane;
  let webhook: RunningWebhook | undefined;

  beforeAll(async () => {
    const { rootfs, config } = await unpacked(images.webhook, 'webhook', 'arm64');
    cp = await startControlPlane();
    // The image runs `node /app/sidecar-destruct.mjs webhook`; the harness adds `webhook` and the flags itself.
    webhook = await startWebhook(cp, [], { command: underQemu(rootfs, config), readyWithinMs: 180_000 });
    await expectStatus(
      cp.rest('POST', '/api/v1/namespaces', {
        metadata: { name: 'home', labels: { 'sidecar-destruct.io/injection': 'enabled' } },
      }),
      201,
    );
    await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/home/serviceaccounts', { metadata: { name: 'default' } }),
      201,
    );
  });
  afterAll(async () => {
    await webhook?.stop();
    await cp?.stop();
  });

  it('injects a pod the API server sends it for admission', async () => {
    const plain = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'z2m' },
      spec: {
        nodeSelector: { [USB]: 'true' },
        containers: [{ name: 'app', image: 'koenkk/zigbee2mqtt:2.1.1' }],
      },
    };
    const created = await createPod(cp, 'home', plain);
    const containers = [...(created.spec?.initContainers ?? []), ...(created.spec?.containers ?? [])];
    expect(containers.map((c) => c.name)).toContain(SIDECAR_CONTAINER);
    expect(created.metadata?.annotations?.['sidecar-destruct.io/status']).toBe('injected');
  });
});
