/**
 * The descheduler (sigs.k8s.io/descheduler, built by bench/tools/build.sh) as users run it for this job: the
 * RemovePodsViolatingNodeAffinity plugin for required node affinity, the default evictor, its own defaults for
 * everything else (client rate limits included), with an admin kubeconfig, against the benchmark's control plane.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControlPlane } from '@sidecar-destruct/cluster';

/** Its Helm chart's CronJob runs every 2 minutes; its Deployment mode defaults to 5 minutes. */
export const DESCHEDULER_DEFAULT_INTERVAL_S = 120;

const POLICY = `apiVersion: descheduler/v1alpha2
kind: DeschedulerPolicy
profiles:
  - name: node-affinity
    pluginConfig:
      - name: DefaultEvictor
      - name: RemovePodsViolatingNodeAffinity
        args:
          nodeAffinityType:
            - requiredDuringSchedulingIgnoredDuringExecution
    plugins:
      deschedule:
        enabled:
          - RemovePodsViolatingNodeAffinity
`;

export async function startDescheduler(
  cp: ControlPlane,
  toolsDir: string,
  intervalS: number,
): Promise<ChildProcess> {
  const policy = join(cp.dir, 'descheduler-policy.yaml');
  await writeFile(policy, POLICY);
  const log = openSync(join(cp.dir, `descheduler-${intervalS}s.log`), 'a');
  const child = spawn(
    join(toolsDir, 'descheduler'),
    [
      `--kubeconfig=${cp.kubeconfig}`,
      `--policy-config-file=${policy}`,
      `--descheduling-interval=${intervalS}s`,
      '--v=2',
    ],
    { stdio: ['ignore', log, log] },
  );
  child.on('exit', (code, signal) => {
    if (code !== null && code !== 0) console.error(`descheduler exited ${code ?? signal}; see ${cp.dir}`);
  });
  return child;
}
