/**
 * An arm64 virtual machine with a 16K-page kernel, the Raspberry Pi 5's default page size, booted under Debian's
 * qemu-system-aarch64 (software emulation): qemu-user runs arm64 binaries with this machine's 4K pages and cannot
 * show what a runtime does on 16K ones. The VM's root filesystem is an image's own (unpacked by ImageArchive), in an
 * initramfs with Debian's static busybox as init; the guest reaches this machine's loopback at 10.0.2.2 (qemu's
 * user-mode network). infra/node/vm16k.sh brings the kernel, its virtio-net modules and busybox.
 *
 * `arm64VmCommand` is a command for startSidecar: the launcher (arm64-vm-main.ts) takes the env and the
 * `--service-account-dir` the harness gives a sidecar process into the VM, runs the image's entrypoint there and
 * relays the VM's console as its own stdout, so the sidecar's log lines reach the harness as from any process.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildStep, NODE_SCRIPTS } from './build-step.js';

const LAUNCHER = fileURLToPath(new URL('./arm64-vm-main.js', import.meta.url));

/** How the guest reaches this machine's loopback interface (qemu's user-mode network). */
export const VM_HOST_ADDRESS = '10.0.2.2';

/** The directory vm16k.sh fills: Image, modules/*.ko, busybox. */
export async function vm16kAssets(): Promise<string> {
  const [dir] = await buildStep(`${NODE_SCRIPTS}vm16k.sh`);
  if (!dir) throw new Error('infra/node/vm16k.sh printed no directory');
  return dir;
}

/**
 * The command that runs `argv` (an image's entrypoint, paths inside the image) in the VM with `rootfs` as its root
 * filesystem; startSidecar appends `--service-account-dir DIR`.
 */
export function arm64VmCommand(assets: string, rootfs: string, argv: readonly string[]): string[] {
  return [process.execPath, LAUNCHER, assets, rootfs, '--', ...argv];
}

// --- the initramfs: a newc cpio archive ----------------------------------------------------------------------

export interface CpioEntry {
  readonly path: string;
  /** st_mode: the file type bits and the permissions. */
  readonly mode: number;
  /** A regular file's contents, or a symbolic link's target. */
  readonly data: Buffer;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export const cpioFile = (path: string, data: Buffer | string, mode = 0o644): CpioEntry => ({
  path,
  mode: S_IFREG | mode,
  data: Buffer.from(data),
});
export const cpioDir = (path: string, mode = 0o755): CpioEntry => ({
  path,
  mode: S_IFDIR | mode,
  data: Buffer.alloc(0),
});

/** The "newc" format the kernel unpacks into its initramfs; archives may be concatenated. */
export function cpio(entries: readonly CpioEntry[]): Buffer {
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const parts: Buffer[] = [];
  const add = (ino: number, entry: CpioEntry) => {
    const name = Buffer.from(`${entry.path.replace(/^\/+/, '')}\0`);
    const fields = [ino, entry.mode, 0, 0, 1, 0, entry.data.length, 0, 0, 0, 0, name.length, 0];
    const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`);
    parts.push(header, name, pad(header.length + name.length), entry.data, pad(entry.data.length));
  };
  for (const [i, e] of entries.entries()) add(i + 1, e);
  add(0, { path: 'TRAILER!!!', mode: 0, data: Buffer.alloc(0) });
  return Buffer.concat(parts);
}

/** Every directory, file and symbolic link under `root`, as entries at the same paths below `/`. */
export async function cpioTree(root: string, under = ''): Promise<CpioEntry[]> {
  const out: CpioEntry[] = [];
  for (const name of (await readdir(join(root, under))).sort()) {
    const rel = under ? `${under}/${name}` : name;
    const st = await lstat(join(root, rel));
    if (st.isSymbolicLink())
      out.push({ path: rel, mode: S_IFLNK | 0o777, data: Buffer.from(await readlink(join(root, rel))) });
    else if (st.isDirectory()) out.push(cpioDir(rel, st.mode & 0o7777), ...(await cpioTree(root, rel)));
    else if (st.isFile()) out.push(cpioFile(rel, await readFile(join(root, rel)), st.mode & 0o7777));
  }
  return out;
}

/** A word for a POSIX shell, quoted. */
export const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * The VM's /init (busybox sh): mounts, loads virtio-net and brings up the user-mode network, says the page size
 * the kernel runs with, runs the command with exactly `env`, says its exit status and powers off.
 */
export function initScript(
  modules: readonly string[],
  env: Readonly<Record<string, string>>,
  argv: readonly string[],
): string {
  const bb = '/bin/busybox';
  return [
    `#!${bb} sh`,
    `${bb} mount -t proc proc /proc && ${bb} mount -t sysfs sys /sys && ${bb} mount -t devtmpfs dev /dev`,
    ...modules.map((m) => `${bb} insmod /vm-modules/${m}`),
    `${bb} ip link set lo up && ${bb} ip link set eth0 up`,
    `${bb} ip addr add 10.0.2.15/24 dev eth0 && ${bb} ip route add default via ${VM_HOST_ADDRESS}`,
    `echo "vm: page size $(${bb} awk '/KernelPageSize/ { print $2; exit }' /proc/self/smaps) kB, kernel $(${bb} uname -r)"`,
    `${bb} env -i ${Object.entries(env)
      .map(([k, v]) => shellQuote(`${k}=${v}`))
      .join(' ')} ${argv.map(shellQuote).join(' ')}`,
    'echo "vm: exit status $?"',
    `${bb} poweroff -f`,
    '',
  ].join('\n');
}
