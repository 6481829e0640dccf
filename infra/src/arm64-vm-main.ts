/**
 * The launcher arm64VmCommand names (see arm64-vm.ts): `node arm64-vm-main.js ASSETS ROOTFS -- ARGV… [--service-account-dir DIR]`.
 * Boots the 16K-page VM with ROOTFS and runs ARGV there with this process's env (PATH: the image's); the
 * service-account directory's files go into the VM at /vm/serviceaccount. The VM's console is this process's
 * stdout, line by line; it exits with the command's exit status, and SIGTERM or SIGINT stops the VM.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type CpioEntry, cpio, cpioDir, cpioFile, cpioTree, initScript } from './arm64-vm.js';

const MODULES = ['failover.ko', 'net_failover.ko', 'virtio_net.ko'];
const SA_IN_VM = '/vm/serviceaccount';

/** The command line, the service-account directory's argument already rewritten to where the VM sees it. */
interface Launch {
  readonly assets: string;
  readonly rootfs: string;
  readonly argv: readonly string[];
  /** The host's service-account directory, when the command names one. */
  readonly saDir: string | undefined;
}

async function main(): Promise<number> {
  const launch = parseArgs(process.argv.slice(2));
  if (!launch) {
    process.stderr.write('usage: arm64-vm-main ASSETS ROOTFS -- ARGV… [--service-account-dir DIR]\n');
    return 2;
  }
  const entries = await initramfs(launch);
  const work = await mkdtemp(join(tmpdir(), 'sidecar-destruct-vm-'));
  const initrd = join(work, 'initrd.cpio');
  await writeFile(initrd, cpio(entries));
  const status = await runVm(launch.assets, initrd);
  await rm(work, { recursive: true, force: true });
  return status;
}

function parseArgs(args: readonly string[]): Launch | undefined {
  const [assets, rootfs, separator, ...argv] = args;
  if (!assets || !rootfs || separator !== '--' || argv.length === 0) return undefined;
  const at = argv.indexOf('--service-account-dir');
  const saDir = at >= 0 ? argv[at + 1] : undefined;
  if (saDir) argv[at + 1] = SA_IN_VM;
  return { assets, rootfs, argv, saDir };
}

/**
 * The VM's whole root filesystem: the image's (but the directories the VM mounts or owns), busybox, the network
 * modules, the service-account files, and an init that runs the command with this process's env but the image's PATH.
 */
async function initramfs({ assets, rootfs, argv, saDir }: Launch): Promise<CpioEntry[]> {
  const { PATH: _hostPath, ...env } = process.env;
  return [
    ...(await cpioTree(rootfs)).filter((e) => !['bin', 'proc', 'sys', 'dev', 'vm'].includes(e.path)),
    ...['bin', 'proc', 'sys', 'dev', 'vm', 'vm-modules', SA_IN_VM.slice(1)].map((d) => cpioDir(d)),
    cpioFile('bin/busybox', await readFile(join(assets, 'busybox')), 0o755),
    ...(await Promise.all(
      MODULES.map(async (m) => cpioFile(`vm-modules/${m}`, await readFile(join(assets, 'modules', m)))),
    )),
    ...(saDir ? await serviceAccountFiles(saDir) : []),
    cpioFile(
      'init',
      initScript(MODULES, { ...(env as Record<string, string>), PATH: '/usr/local/bin:/usr/bin:/bin' }, argv),
      0o755,
    ),
  ];
}

async function serviceAccountFiles(saDir: string): Promise<CpioEntry[]> {
  return Promise.all(
    (await readdir(saDir)).map(async (f) =>
      cpioFile(`${SA_IN_VM.slice(1)}/${f}`, await readFile(join(saDir, f)), 0o644),
    ),
  );
}

/** Boots the VM, relays its console, and resolves with the command's exit status once qemu has exited. */
async function runVm(assets: string, initrd: string): Promise<number> {
  const qemu = spawn(
    'qemu-system-aarch64',
    [
      ...['-M', 'virt', '-cpu', 'max', '-smp', '1', '-m', '1024', '-nographic', '-no-reboot'],
      ...['-kernel', join(assets, 'Image'), '-initrd', initrd],
      ...['-append', 'console=ttyAMA0 quiet panic=-1'],
      ...['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,romfile='],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stop = () => qemu.kill('SIGTERM');
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  let status = 1;
  relayConsole(qemu.stdout, (code) => {
    status = code;
  });
  await new Promise((resolve) => qemu.on('exit', resolve));
  return status;
}

/** Writes the console's lines to stdout as they come, and reports the status line the init prints at the end. */
function relayConsole(output: Readable, onStatus: (status: number) => void): void {
  let buffer = '';
  output.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let i = buffer.indexOf('\n');
    while (i >= 0) {
      const line = buffer.slice(0, i).replace(/\r$/, '');
      buffer = buffer.slice(i + 1);
      const exit = /^vm: exit status (\d+)$/.exec(line);
      if (exit) onStatus(Number(exit[1]));
      process.stdout.write(`${line}\n`);
      i = buffer.indexOf('\n');
    }
  });
}

process.exitCode = await main();
