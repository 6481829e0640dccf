/**
 * The descheduler (sigs.k8s.io/descheduler, built by bench/tools/build.sh) as users run it for this job: the
 * RemovePodsViolatingNodeAffinity plugin for required node affinity, the default evictor, its own defaults for
 * everything else (client rate limits included), with an admin kubeconfig, against the benchmark's control plane.
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControlPlane } from '@sidecar-destruct/testkit';

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

export interface RunningDescheduler {
  readonly pid: number;
  /** Throws when it has exited: a descheduler that died would read as "never acted". */
  assertAlive(): void;
  /** SIGTERM, and waits until it has exited. */
  stop(): Promise<void>;
}

export async function startDescheduler(
  cp: ControlPlane,
  toolsDir: string,
  intervalS: number,
): Promise<RunningDescheduler> {
  const policy = join(cp.dir, 'descheduler-policy.yaml');
  await writeFile(policy, POLICY);
  const logFile = join(cp.dir, `descheduler-${intervalS}s.log`);
  const log = openSync(logFile, 'a');
  const child = spawn(
    join(toolsDir, 'descheduler'),
    [
      `--kubeconfig=${cp.kubeconfig}`,
      `--policy-config-file=${policy}`,
      `--descheduling-interval=${intervalS}s`,
      // Its metrics server would hold port 10258: two in a row could collide.
      '--secure-port=0',
      '--v=2',
    ],
    { stdio: ['ignore', log, log] },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    pid: child.pid ?? 0,
    assertAlive: () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the descheduler exited (${child.exitCode ?? child.signalCode}); see ${logFile}`);
      }
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
