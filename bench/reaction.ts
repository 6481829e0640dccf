/**
 * Reaction, label removed → pod terminating, per approach and scenario, on one control plane in one run:
 *   the sidecar with `grace-period: 0s` and with the default grace period (one sidecar process per pod);
 *   the original loop (bash running `kubectl get nodes -l LABEL --field-selector metadata.name=NODE` every 10 s,
 *   then `kubectl delete pod`; with its bug: an empty answer, even from a failed request, counts as "label gone");
 *   the descheduler at a 5 s interval and at its 2 min default (one process for the cluster).
 * Each trial has its own node; the label is removed at a random moment after the approach is running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_SETTINGS, type Settings } from '@sidecar-destruct/core';
import { SETTLE_MS } from '@sidecar-destruct/sidecar/decide';
import { type ControlPlane, setNodeLabels, startSidecar, USB_LABEL } from '@sidecar-destruct/testkit';
import { DESCHEDULER_DEFAULT_INTERVAL_S, startDescheduler } from './descheduler.ts';
import {
  createPod,
  type Deletions,
  deleteNodes,
  deletePods,
  ensureNode,
  NS,
  pool,
  scenarioPod,
  sleep,
} from './lib.ts';
import {
  type ReactionApproach,
  type ReactionRaw,
  type ReactionTrial,
  SCENARIOS,
  type Scenario,
} from './tables.ts';

/** The original script's interval. */
export const LOOP_INTERVAL_S = 10;
/** Loops running at once (each trial lasts about one interval): two kubectl a second. */
const LOOPS_AT_ONCE = 20;

/** The original loop, as a shell script around kubectl. */
function loopScript(kubectl: string, kubeconfig: string, node: string, pod: string): string {
  return `#!/usr/bin/env bash
while true; do
  count=$(${kubectl} --kubeconfig=${kubeconfig} get nodes -l ${USB_LABEL}=true --field-selector metadata.name=${node} --no-headers 2>/dev/null | wc -l)
  if [ "$count" -eq 0 ]; then
    ${kubectl} --kubeconfig=${kubeconfig} -n ${NS} delete pod ${pod} --wait=false
    exit 0
  fi
  sleep ${LOOP_INTERVAL_S}
done
`;
}

export async function startLoop(cp: ControlPlane, node: string, pod: string): Promise<ChildProcess> {
  const script = join(cp.dir, `loop-${pod}.sh`);
  await writeFile(script, loopScript(join(cp.binDir, 'kubectl'), cp.kubeconfig, node, pod), { mode: 0o755 });
  return spawn('bash', [script], { stdio: 'ignore' });
}

export interface ReactionSizes {
  /** Trials per scenario for the sidecar (both grace periods) and the loop. */
  readonly trials: number;
  /** Trials per scenario for the descheduler at 5 s: required affinity, then each other scenario. */
  readonly deschedulerTrials: readonly [number, number];
  /** The same at its 2 min default; [0, 0] leaves that run out. */
  readonly deschedulerDefaultTrials: readonly [number, number];
  /** The spread of the label removals over time for the descheduler runs, in intervals. */
  readonly deschedulerSpreadIntervals: number;
}

interface Instance {
  readonly uid: string;
  stop(): void | Promise<void>;
}

/** Trials that each start their own instance (a sidecar, a loop): `concurrency` at a time. */
async function perPodTrials(
  cp: ControlPlane,
  deletions: Deletions,
  id: string,
  trials: number,
  concurrency: number,
  phaseMs: number,
  waitMs: number,
  start: (name: string, node: string, scenario: Scenario) => Promise<Instance>,
): Promise<ReactionTrial[]> {
  const jobs = SCENARIOS.flatMap((scenario) =>
    Array.from({ length: trials }, (_, i) => async (): Promise<ReactionTrial> => {
      const name = `${id}-${scenario}-${i}`;
      await ensureNode(cp, name);
      const instance = await start(name, name, scenario);
      try {
        await sleep(Math.random() * phaseMs);
        deletions.expectLive(instance.uid, name);
        const removed = performance.now();
        await setNodeLabels(cp, name, { [USB_LABEL]: null });
        const seen = await deletions.wait(instance.uid, waitMs);
        return { scenario, reactedMs: seen === undefined ? null : seen - removed, waitedMs: waitMs };
      } finally {
        await instance.stop();
      }
    }),
  );
  // Interleave the scenarios so that each meets the same load.
  const order = jobs.map((_, i) => (i % SCENARIOS.length) * trials + Math.floor(i / SCENARIOS.length));
  const results = await pool(
    concurrency,
    order.map((i) => jobs[i] as () => Promise<ReactionTrial>),
  );
  await cleanUp(cp, id);
  return results;
}

/**
 * One at a time without a grace period: the figure is one sidecar's reaction on a quiet node (mass action measures
 * many at once). With the grace period each trial mostly waits, so 25 run at once and the run takes minutes.
 */
const sidecarsAtOnce = (settings: Settings): number => (settings.gracePeriodMs > 0 ? 25 : 1);

function sidecarTrials(
  cp: ControlPlane,
  deletions: Deletions,
  id: string,
  trials: number,
  settings: Settings,
  executable: string,
): Promise<ReactionTrial[]> {
  return perPodTrials(
    cp,
    deletions,
    id,
    trials,
    sidecarsAtOnce(settings),
    500,
    settings.gracePeriodMs + 10_000,
    async (name, node, scenario) => {
      const uid = await createPod(cp, scenarioPod(name, node, scenario, settings));
      const sidecar = await startSidecar(cp, NS, name, { executable });
      await sidecar.waitForLog((l) => l.msg === 'watching the node', 60_000);
      // Steady state: a sidecar reads only once its watch has been up for a moment (SETTLE_MS); one that has just
      // started would add up to that much to its first reaction.
      await sleep(SETTLE_MS + 750);
      return { uid, stop: () => sidecar.stop() };
    },
  );
}

/** One descheduler for every trial: pods first, then the removals spread at random over a few of its intervals. */
async function deschedulerTrials(
  cp: ControlPlane,
  deletions: Deletions,
  id: string,
  toolsDir: string,
  intervalS: number,
  [affinityTrials, otherTrials]: readonly [number, number],
  spreadIntervals: number,
): Promise<ReactionTrial[]> {
  // A labelled node with no pod: "another node fits" for every scenario but `nofit`.
  await ensureNode(cp, `${id}-spare`);
  const planned: Array<{ scenario: Scenario; node: string; uid: string }> = [];
  for (const scenario of SCENARIOS) {
    const count = scenario === 'affinity' ? affinityTrials : otherTrials;
    for (let i = 0; i < count; i++) {
      const node = `${id}-${scenario}-${i}`;
      await ensureNode(cp, node);
      planned.push({ scenario, node, uid: await createPod(cp, scenarioPod(node, node, scenario)) });
    }
  }
  const descheduler = await startDescheduler(cp, toolsDir, intervalS);
  const waitMs = (intervalS + Math.max(10, intervalS / 4)) * 1_000;
  const spreadMs = spreadIntervals * intervalS * 1_000;
  try {
    // Its first run starts at once; the removals begin after it, each at a random moment of the spread.
    await sleep(3_000);
    return await Promise.all(
      planned.map(async ({ scenario, node, uid }): Promise<ReactionTrial> => {
        await sleep(Math.random() * spreadMs);
        deletions.expectLive(uid, node);
        const removed = performance.now();
        await setNodeLabels(cp, node, { [USB_LABEL]: null });
        const seen = await deletions.wait(uid, waitMs);
        // "Never acted" must mean it ran and chose not to.
        descheduler.assertAlive();
        return { scenario, reactedMs: seen === undefined ? null : seen - removed, waitedMs: waitMs };
      }),
    );
  } finally {
    await descheduler.stop();
    await cleanUp(cp, id);
  }
}

/** Removes an approach's pods and nodes. */
async function cleanUp(cp: ControlPlane, id: string): Promise<void> {
  await deletePods(cp, id);
  await deleteNodes(cp, id);
}

/** The original loop's trials: one loop per pod, up to LOOPS_AT_ONCE at a time, met at a random phase. */
function loopTrials(cp: ControlPlane, deletions: Deletions, trials: number): Promise<ReactionTrial[]> {
  return perPodTrials(
    cp,
    deletions,
    'loop',
    trials,
    LOOPS_AT_ONCE,
    LOOP_INTERVAL_S * 1_000,
    (2 * LOOP_INTERVAL_S + 5) * 1_000,
    async (name, node, scenario) => {
      const uid = await createPod(cp, scenarioPod(name, node, scenario));
      const loop = await startLoop(cp, node, name);
      return { uid, stop: () => void loop.kill() };
    },
  );
}

/** An approach to measure: how the tables name it, how many of its trials run at once, and its trials. */
interface Approach {
  readonly id: string;
  readonly words: string;
  readonly atOnce: number;
  readonly trials: () => Promise<ReactionTrial[]>;
}

/** Every approach in the order they run: the sidecar at both grace periods, the loop, the descheduler. */
function approaches(
  cp: ControlPlane,
  deletions: Deletions,
  toolsDir: string,
  executable: string,
  sizes: ReactionSizes,
): Approach[] {
  const zero = { ...DEFAULT_SETTINGS, gracePeriodMs: 0 };
  const all = ([a, b]: readonly [number, number]) => a + 3 * b;
  const descheduler =
    (id: string, intervalS: number, trials: readonly [number, number], spread: number) => () =>
      deschedulerTrials(cp, deletions, id, toolsDir, intervalS, trials, spread);
  return [
    {
      id: 'sidecar-0',
      words: 'sidecar-destruct, `grace-period: 0s`',
      atOnce: sidecarsAtOnce(zero),
      trials: () => sidecarTrials(cp, deletions, 'sidecar-0', sizes.trials, zero, executable),
    },
    {
      id: 'sidecar-default',
      words: `sidecar-destruct, default grace period (${DEFAULT_SETTINGS.gracePeriodMs / 1_000} s)`,
      atOnce: sidecarsAtOnce(DEFAULT_SETTINGS),
      trials: () =>
        sidecarTrials(cp, deletions, 'sidecar-default', sizes.trials, DEFAULT_SETTINGS, executable),
    },
    {
      id: 'loop',
      words: `original loop, kubectl every ${LOOP_INTERVAL_S} s`,
      atOnce: LOOPS_AT_ONCE,
      trials: () => loopTrials(cp, deletions, sizes.trials),
    },
    {
      id: 'descheduler-5s',
      words: 'descheduler, every 5 s',
      atOnce: all(sizes.deschedulerTrials),
      trials: descheduler('descheduler-5s', 5, sizes.deschedulerTrials, sizes.deschedulerSpreadIntervals),
    },
    ...(sizes.deschedulerDefaultTrials[0] > 0
      ? [
          {
            id: 'descheduler-2m',
            words: `descheduler, every ${DESCHEDULER_DEFAULT_INTERVAL_S / 60} min (its Helm chart's CronJob schedule, run here as one process)`,
            atOnce: all(sizes.deschedulerDefaultTrials),
            trials: descheduler(
              'descheduler-2m',
              DESCHEDULER_DEFAULT_INTERVAL_S,
              sizes.deschedulerDefaultTrials,
              2,
            ),
          },
        ]
      : []),
  ];
}

export async function reactionBench(
  cp: ControlPlane,
  deletions: Deletions,
  toolsDir: string,
  executable: string,
  sizes: ReactionSizes,
  log: (line: string) => void,
): Promise<ReactionRaw> {
  const measured: ReactionApproach[] = [];
  for (const { id, words, atOnce, trials } of approaches(cp, deletions, toolsDir, executable, sizes)) {
    const started = performance.now();
    measured.push({ id, words, atOnce, trials: await trials() });
    log(`reaction: ${words}: ${((performance.now() - started) / 1_000).toFixed(0)} s`);
  }
  return { loopIntervalS: LOOP_INTERVAL_S, approaches: measured };
}
