/** Finds the control-plane binaries: $KUBEBUILDER_ASSETS, or the cache that controlplane/build.sh fills. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = fileURLToPath(new URL('../controlplane/build.sh', import.meta.url));

let cached: Promise<string> | undefined;

/** The directory holding kube-apiserver, etcd, kubectl, kube-scheduler and kube-controller-manager. */
export function controlPlaneBinaries(): Promise<string> {
  cached ??= new Promise<string>((resolve, reject) => {
    // Progress of a first build goes to our stderr; the directory is the last line of stdout.
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    // 'close', not 'exit': the output may still be on its way when the process has exited.
    child.on('close', (code) => {
      const dir = out.trim().split('\n').at(-1);
      if (code === 0 && dir) resolve(dir);
      else reject(new Error(`testkit/controlplane/build.sh failed (exit ${code}); see its output above`));
    });
  });
  return cached;
}
