/** The project's build scripts, run from TypeScript: the images, the real node's binaries, the emulator. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const NODE_SCRIPTS = fileURLToPath(new URL('../node/', import.meta.url));

/** A command's output as its non-empty lines. */
export function lines(stdout: string): string[] {
  return stdout.trim().split('\n').filter(Boolean);
}

/** Runs a build script with its progress on our stderr; resolves with its stdout lines. */
export function buildStep(
  script: string,
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    // 'close', not 'exit': the output may still be on its way when the process has exited.
    child.on('close', (code) =>
      code === 0
        ? resolve(lines(out))
        : reject(new Error(`${script} failed (exit ${code}); see its output above`)),
    );
  });
}

export interface ShippedImage {
  readonly name: string;
  readonly digest: string;
  /** The OCI image archive, both platforms. */
  readonly archive: string;
}

/** The two images as users get them: built by images/build.sh (or found in its cache). */
export async function shippedImages(): Promise<Readonly<Record<'sidecar' | 'webhook', ShippedImage>>> {
  const built = await buildStep(`${ROOT}images/build.sh`);
  const shipped: Record<string, ShippedImage> = {};
  for (const line of built) {
    const [name, digest, archive] = line.split(' ');
    if (name && digest && archive)
      shipped[name.split('/').at(-1)?.split(':')[0] ?? name] = { name, digest, archive };
  }
  if (!shipped.sidecar || !shipped.webhook) throw new Error(`images/build.sh: ${built.join(' | ')}`);
  return { sidecar: shipped.sidecar, webhook: shipped.webhook };
}

/** Debian's qemu-aarch64-static, unpacked into the cache (infra/node/qemu.sh; no binfmt handler registered). */
export async function qemuAarch64(): Promise<string> {
  const [path] = (await buildStep(`${NODE_SCRIPTS}qemu.sh`)).slice(-1);
  if (!path) throw new Error('infra/node/qemu.sh printed nothing');
  return path;
}

/** Helm, built from the Go module proxy into the cache (infra/tools/helm.sh): v4 unless `major` is 3. */
export async function helmBinary(major: 3 | 4 = 4): Promise<string> {
  const [path] = (await buildStep(`${ROOT}infra/tools/helm.sh`, [], { HELM_MAJOR: String(major) })).slice(-1);
  if (!path) throw new Error('infra/tools/helm.sh printed nothing');
  return path;
}
