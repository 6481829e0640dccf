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
import { cpio, cpioDir, cpioFile, cpioTree, initScript } from './arm64-vm.js';

const MODULES = ['failover.ko', 'net_failover.ko', 'virtio_net.ko'];
const SA_IN_VM = '/vm/serviceaccount';

async function main(): Promise<number> {
  const [assets, rootfs, separator, ...argv] = process.argv.slice(2);
  if (!assets || !rootfs || separator !== '--' || argv.length === 0) {
    process.stderr.write('usage: arm64-vm-main ASSETS ROOTFS -- ARGV… [--service-account-dir DIR]\n');
    return 2;
  }
  const at = argv.indexOf('--service-account-dir');
  const saDir = at >= 0 ? argv[at + 1] : undefined;
  if (saDir) argv[at + 1] = SA_IN_VM;

  const { PATH: _hostPath, ...env } = process.env;
  const entries = [
    ...(await cpioTree(rootfs)).filter((e) => !['bin', 'proc', 'sys', 'dev', 'vm'].includes(e.path)),
    ...['bin', 'proc', 'sys', 'dev', 'vm', 'vm-modules', SA_IN_VM.slice(1)].map((d) => cpioDir(d)),
    cpioFile('bin/busybox', await readFile(join(assets, 'busybox')), 0o755),
    ...(await Promise.all(
      MODULES.map(async (m) => cpioFile(`vm-modules/${m}`, await readFile(join(assets, 'modules', m)))),
    )),
    ...(saDir
      ? await Promise.all(
          (await readdir(saDir)).map(async (f) =>
            cpioFile(`${SA_IN_VM.slice(1)}/${f}`, await readFile(join(saDir, f)), 0o644),
          ),
        )
      : []),
    cpioFile(
      'init',
      initScript(MODULES, { ...(env as Record<string, string>), PATH: '/usr/local/bin:/usr/bin:/bin' }, argv),
      0o755,
    ),
  ];
  const work = await mkdtemp(join(tmpdir(), 'sidecar-destruct-vm-'));
  const initrd = join(work, 'initrd.cpio');
  await writeFile(initrd, cpio(entries));

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
  let buffer = '';
  qemu.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let i = buffer.indexOf('\n');
    while (i >= 0) {
      const line = buffer.slice(0, i).replace(/\r$/, '');
      buffer = buffer.slice(i + 1);
      const exit = /^vm: exit status (\d+)$/.exec(line);
      if (exit) status = Number(exit[1]);
      process.stdout.write(`${line}\n`);
      i = buffer.indexOf('\n');
    }
  });
  await new Promise((resolve) => qemu.on('exit', resolve));
  await rm(work, { recursive: true, force: true });
  return status;
}

process.exitCode = await main();
