/**
 * node-feature-discovery on the real node, deployed as its users deploy it: NFD's own kustomize overlay
 * (`deployment/overlays/default`, copied out of the Go module by infra/node/nfd.sh) with this project's
 * `deploy/nfd` component on top, applied with `kubectl apply -k`, its image built from the module proxy and
 * imported into the node's containerd. One patch is the test's own: the worker's `host-sys` volume points at a
 * folder holding a fake USB device tree, since this machine has no USB bus (NFD's usb source reads
 * `/host-sys/bus/usb/devices/*`; every other source keeps reading the real host).
 */
import { existsSync, constants as fsConstants } from 'node:fs';
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { type ControlPlane, until } from '@sidecar-destruct/testkit';
import { NFD_HELPER } from '@sidecar-destruct/udev';
import { buildStep, NODE_SCRIPTS, ROOT } from './build-step.js';
import type { UsbSerialDevice } from './udev-event.js';

/**
 * The NFD releases the README names and the suites run: the one deployed first (built with this machine's Go), and
 * the next, which the suite upgrades to (it needs Go 1.27: infra/node/nfd.sh fetches that toolchain).
 */
export const NFD_VERSION = 'v0.19.0';
export const NFD_UPGRADE_TO = 'v0.20.1';
export const NFD_NAMESPACE = 'node-feature-discovery';
/** The host folder NFD's worker DaemonSet mounts, and the udev helper writes (udev/nfd-feature). */
export const FEATURES_D = '/etc/kubernetes/node-feature-discovery/features.d';
export const NFD_LABEL_PREFIX = 'feature.node.kubernetes.io/';

/**
 * The README's Zigbee stick (a CP2102 USB serial adapter, 10c4:ea60) as udevd reports its tty: what the NFD suite
 * and the real-node demo plug in and unplug through the udev rules.
 */
export const ZIGBEE_STICK: UsbSerialDevice = {
  vendor: '10c4',
  product: 'ea60',
  devname: '/dev/ttyUSB0',
  devpath: '/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/ttyUSB0/tty/ttyUSB0',
};

export interface NfdBuild {
  readonly version: string;
  /** The OCI archive of registry.k8s.io/nfd/node-feature-discovery:VERSION. */
  readonly archive: string;
  /** NFD's own deployment/ folder (kustomize bases, overlays, components, Helm chart). */
  readonly deployment: string;
}

/** Builds (or finds in the cache) NFD's binaries, image and manifests; progress goes to stderr. */
export async function buildNfd(version: string = NFD_VERSION): Promise<NfdBuild> {
  const [archive, deployment] = (await buildStep(join(NODE_SCRIPTS, 'nfd.sh'), [version])).slice(-2);
  if (!archive || !deployment) throw new Error('infra/node/nfd.sh printed no archive and folder');
  return { version, archive, deployment };
}

/**
 * The harness's own folder for NFD runs, under /run, where only root can create anything: the record of what a run
 * added to the host (so that a killed run's leftovers go at the next start, as infra/node/host.sh does for the
 * node itself), a lock, and the fake USB tree.
 */
const HOST_DIR = '/run/sidecar-destruct-nfd';
const HOST_RECORD = join(HOST_DIR, 'created.json');
const HOST_LOCK = join(HOST_DIR, 'lock');
const FAKE_SYSFS = join(HOST_DIR, 'sysfs');
/** The only host paths a run may create, and so the only ones it ever removes (and only once recorded). */
const CREATABLE = [
  '/etc/kubernetes',
  '/etc/kubernetes/node-feature-discovery',
  FEATURES_D,
  dirname(NFD_HELPER),
  NFD_HELPER,
];
/** What the udev helper itself writes in features.d. */
const HELPER_FILES = /^(sidecar-destruct-|\.sidecar-destruct)/;

async function ownFolder(): Promise<void> {
  await mkdir(HOST_DIR, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const found = await lstat(HOST_DIR);
  if (!found.isDirectory() || found.uid !== 0 || (found.mode & 0o022) !== 0)
    throw new Error(`${HOST_DIR} is not a folder only root can write: refusing to use it`);
  const holder = Number(await readFile(HOST_LOCK, 'utf8').catch(() => '0'));
  if (holder && holder !== process.pid && isAlive(holder))
    throw new Error(`another run (pid ${holder}) is using ${HOST_DIR}`);
  await writeFile(HOST_LOCK, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes what the record lists, deepest first; a folder only once it holds nothing but the helper's files. */
async function removeRecorded(): Promise<void> {
  const recorded = JSON.parse(await readFile(HOST_RECORD, 'utf8').catch(() => '[]')) as string[];
  const left: string[] = [];
  for (const path of CREATABLE.filter((p) => recorded.includes(p)).reverse()) {
    if (path === NFD_HELPER) {
      await rm(path, { force: true });
      continue;
    }
    const entries = await readdir(path).catch(() => [] as string[]);
    if (path === FEATURES_D) {
      for (const entry of entries.filter((e) => HELPER_FILES.test(e)))
        await rm(join(path, entry), { recursive: true });
    }
    await rmdir(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') left.push(`${path} (${e.code})`);
    });
  }
  await rm(FAKE_SYSFS, { recursive: true, force: true });
  await rm(HOST_RECORD, { force: true });
  if (left.length > 0) throw new Error(`left on the host, not empty: ${left.join(', ')}`);
}

export interface NfdHost {
  /** The folder the worker's host-sys volume points at, holding bus/usb/devices. */
  readonly fakeSysfs: string;
  /** Removes what `prepareNfdHost` added to the host, and nothing else. */
  undo(): Promise<void>;
}

/**
 * What the host needs before NFD's worker starts: its features.d, the fake USB tree, and udev/nfd-feature
 * installed where the README installs it (`NFD_HELPER`). Refuses a host that already has either (a real NFD node,
 * or the helper installed): it would change what they hold.
 */
export async function prepareNfdHost(): Promise<NfdHost> {
  await ownFolder();
  await removeRecorded();
  for (const path of [FEATURES_D, NFD_HELPER]) {
    if (existsSync(path))
      throw new Error(`${path} exists on this host; the NFD suite would change it: refusing`);
  }
  const created: string[] = [];
  try {
    for (const path of CREATABLE) {
      if (existsSync(path)) continue;
      created.push(path);
      await writeFile(HOST_RECORD, JSON.stringify(created));
      if (path === NFD_HELPER) {
        await copyFile(join(ROOT, 'udev/nfd-feature'), path, fsConstants.COPYFILE_EXCL);
        await chmod(path, 0o755);
      } else await mkdir(path, { mode: 0o755 });
    }
    await mkdir(join(FAKE_SYSFS, 'bus/usb/devices'), { recursive: true, mode: 0o755 });
  } catch (e) {
    await removeRecorded();
    throw e;
  }
  return {
    fakeSysfs: FAKE_SYSFS,
    undo: async () => {
      await removeRecorded();
      await rm(HOST_DIR, { recursive: true, force: true });
    },
  };
}

/** A USB device as sysfs shows it under bus/usb/devices: what NFD's usb source reads. */
export interface FakeUsbDevice {
  readonly port: string;
  readonly deviceClass: string;
  readonly vendor: string;
  readonly product: string;
}

/** Plugs a fake device into the tree: the three attribute files NFD reads. */
export async function plugFakeUsb(tree: string, device: FakeUsbDevice): Promise<void> {
  const staging = join(tree, `.${device.port}`);
  await mkdir(staging, { recursive: true });
  const attributes = { bDeviceClass: device.deviceClass, idVendor: device.vendor, idProduct: device.product };
  for (const [file, value] of Object.entries(attributes)) await writeFile(join(staging, file), `${value}\n`);
  await chmod(staging, 0o755);
  // Whole at once: NFD's scan never sees a device without its class.
  await rename(staging, join(tree, 'bus/usb/devices', device.port));
}

export async function unplugFakeUsb(tree: string, port: string): Promise<void> {
  await rm(join(tree, 'bus/usb/devices', port), { recursive: true, force: true });
}

/** The kustomization a user writes: NFD's default overlay plus deploy/nfd, and the test's fake sysfs. */
export async function nfdKustomization(build: NfdBuild, fakeSysfs: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-nfd-'));
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    // kustomize takes no absolute path to a base or component.
    resources: [relative(dir, join(build.deployment, 'overlays/default'))],
    components: [relative(dir, join(ROOT, 'deploy/nfd'))],
    patches: [
      {
        target: { kind: 'DaemonSet', name: 'nfd-worker' },
        patch: JSON.stringify([
          // NFD's common component lists host-sys fourth among the worker's volumes; the test op fails if that moves.
          { op: 'test', path: '/spec/template/spec/volumes/3/name', value: 'host-sys' },
          {
            op: 'replace',
            path: '/spec/template/spec/volumes/3',
            value: { name: 'host-sys', hostPath: { path: fakeSysfs, type: 'Directory' } },
          },
        ]),
      },
    ],
  };
  await writeFile(join(dir, 'kustomization.yaml'), JSON.stringify(kustomization, null, 2));
  return dir;
}

/** The node's labels under NFD's prefix. */
export async function nfdLabels(cp: ControlPlane, node: string): Promise<Record<string, string>> {
  const got = await cp.rest('GET', `/api/v1/nodes/${node}`);
  const labels: Record<string, string> = got.body?.metadata?.labels ?? {};
  return Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith(NFD_LABEL_PREFIX)));
}

/** `kubectl apply -k`, then waits until the worker's first labels are on the node. */
export async function deployNfd(cp: ControlPlane, kustomization: string, node: string): Promise<void> {
  await cp.kubectl(['apply', '-k', kustomization]);
  await until(
    () => `NFD labels on ${node}`,
    () => labelled(cp, node),
    180_000,
    200,
  );
}

async function labelled(cp: ControlPlane, node: string): Promise<true | undefined> {
  const labels = await nfdLabels(cp, node).catch(() => ({}));
  return Object.keys(labels).length > 0 ? true : undefined;
}
