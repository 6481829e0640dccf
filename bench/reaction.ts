/**
 * Reaction time, label removed → pod being deleted, for the sidecar and for the original approach: a loop that
 * runs `kubectl get nodes -l LABEL --field-selector metadata.name=NODE` every 5 s and then `kubectl delete pod`,
 * re-implemented here with the same kubectl (and the original's bug: an empty answer, even from a failed
 * request, counts as "label gone"). Each trial has its own node and pod; labels are removed one at a time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControlPlane, RunningSidecar } from '@sidecar-destruct/test';
import {
  createPod,
  ensureNode,
  NS,
  quantile,
  setLabel,
  sleep,
  startedSidecar,
  type Table,
  USB,
  waitGone,
} from './lib.ts';

export const BASELINE_INTERVAL_S = 5;

/** The original loop, as a shell script around kubectl. */
function baselineScript(kubectl: string, kubeconfig: string, node: string, pod: string): string {
  return `#!/usr/bin/env bash
while true; do
  count=$(${kubectl} --kubeconfig=${kubeconfig} get nodes -l ${USB}=true --field-selector metadata.name=${node} --no-headers 2>/dev/null | wc -l)
  if [ "$count" -eq 0 ]; then
    ${kubectl} --kubeconfig=${kubeconfig} -n ${NS} delete pod ${pod} --wait=false
    exit 0
  fi
  sleep ${BASELINE_INTERVAL_S}
done
`;
}

export async function startBaselineLoop(cp: ControlPlane, node: string, pod: string): Promise<ChildProcess> {
  const script = join(cp.dir, `baseline-${pod}.sh`);
  await writeFile(script, baselineScript(join(cp.binDir, 'kubectl'), cp.kubeconfig, node, pod), {
    mode: 0o755,
  });
  return spawn('bash', [script], { stdio: 'ignore' });
}

async function trials(
  cp: ControlPlane,
  count: number,
  prefix: string,
  start: (name: string, node: string) => Promise<{ uid: string; stop: () => void | Promise<void> }>,
): Promise<number[]> {
  const running: Array<{ uid: string; node: string; stop: () => void | Promise<void> }> = [];
  for (let i = 0; i < count; i++) {
    const node = `${prefix}-node-${i}`;
    await ensureNode(cp, node);
    running.push({ ...(await start(`${prefix}-${i}`, node)), node });
  }
  // Let every loop reach a random phase of its interval.
  await sleep(BASELINE_INTERVAL_S * 1_000 + 500);
  const latencies: number[] = [];
  for (const r of running) {
    // A random moment within the loop's interval: polling's delay depends on where in its cycle the change lands.
    await sleep(Math.random() * BASELINE_INTERVAL_S * 1_000);
    const removed = performance.now();
    await setLabel(cp, r.node, null);
    const gone = await waitGone(cp, new Set([r.uid]), BASELINE_INTERVAL_S * 3_000);
    latencies.push((gone.get(r.uid) ?? Number.NaN) - removed);
    await r.stop();
  }
  return latencies;
}

export async function reactionBench(cp: ControlPlane, count: number): Promise<Table> {
  const ours = await trials(cp, count, 'reaction', async (name, node) => {
    const { sidecar, uid }: { sidecar: RunningSidecar; uid: string } = await startedSidecar(cp, name, node);
    return { uid, stop: () => sidecar.stop() };
  });
  const baseline = await trials(cp, count, 'loop', async (name, node) => {
    const uid = await createPod(cp, name, node, false);
    const loop = await startBaselineLoop(cp, node, name);
    return { uid, stop: () => void loop.kill() };
  });
  const p = (xs: number[], q: number) => quantile(xs, q).toFixed(0);
  return {
    title: `Reaction: label removed -> pod being deleted (${count} trials each)`,
    columns: ['approach', 'p50 ms', 'p99 ms', 'max ms', 'p50 speed-up vs baseline', 'target'],
    rows: [
      [
        `original loop, kubectl every ${BASELINE_INTERVAL_S} s (baseline)`,
        p(baseline, 0.5),
        p(baseline, 0.99),
        Math.max(...baseline).toFixed(0),
        '1x',
        '',
      ],
      [
        'sidecar-destruct sidecar',
        p(ours, 0.5),
        p(ours, 0.99),
        Math.max(...ours).toFixed(0),
        `${(quantile(baseline, 0.5) / quantile(ours, 0.5)).toFixed(0)}x`,
        'p99 < 1000 ms, >= 5x at p50',
      ],
    ],
  };
}
