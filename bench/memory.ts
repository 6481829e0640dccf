/**
 * Memory as a node sees it. For each N, N sidecars (each watching its node, as in an injected pod) on the shipped
 * runtime, Bun, run side by side with N sidecars of the same bundle on Node 24 (the runtime it was measured
 * against: see the README's "The sidecar's footprint") and N bare idle Bun processes; at the first N the original
 * loop and the descheduler run too. Every process is sampled from /proc/PID/smaps_rollup for the whole duration.
 * Each kind runs from its own copy of its runtime's binary: the file pages its processes share (the binary's
 * code) are then shared among themselves only, as in a container image, and not with any other process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SETTINGS } from '@sidecar-destruct/core';
import {
  type ControlPlane,
  type RunningSidecar,
  SIDECAR_BUNDLE,
  SIDECAR_RUNTIME,
  sidecarRuntime,
  startSidecar,
} from '@sidecar-destruct/testkit';
import { startDescheduler } from './descheduler.ts';
import {
  binaryCopy,
  createPod,
  ensureNode,
  NS,
  processMemory,
  processTree,
  scenarioPod,
  sleep,
} from './lib.ts';
import { LOOP_INTERVAL_S, startLoop } from './reaction.ts';
import type { MemoryRaw, MemoryRun, MemorySample } from './tables.ts';

/** The Bun release the shipped sidecar runs on (scripts/bun.sh brings it). */
const BUN_VERSION = readFileSync(new URL('../.bun-version', import.meta.url), 'utf8').trim();

/**
 * Node's smallest setting for the sidecar, the one it is compared at: the sidecar does a few dozen operations a day,
 * so V8's JIT buys nothing, and without it and with a small young generation the process stays about 2 MB smaller.
 */
const NODE_FLAGS = ['--jitless', '--max-semi-space-size=1'];

export interface MemorySizes {
  readonly ns: readonly number[];
  readonly durationMs: number;
  readonly steadyAfterMs: number;
  readonly sampleEveryMs: number;
  /** The loop's kubectl lives for a fraction of a second every 10 s: sampled this often to see its peak. */
  readonly loopSampleEveryMs: number;
}

interface Kind {
  readonly id: string;
  readonly words: string;
  readonly pids: () => Promise<number[][]>;
  readonly everyMs: number;
}

/** Samples each kind's instances (an instance is a process tree, summed) every `everyMs` until `durationMs`. */
async function sample(kind: Kind, durationMs: number): Promise<MemorySample[]> {
  const samples: MemorySample[] = [];
  const t0 = performance.now();
  for (let t = 0; t < durationMs; t = performance.now() - t0) {
    const instances = await kind.pids();
    const processes = await Promise.all(
      instances.map(async (tree) => {
        // The tree's root must be there (a dead process would count as 0 kB); a kubectl child may exit meanwhile.
        const [root, ...children] = tree;
        const each = [
          await processMemory(root ?? 0).catch((e) => {
            throw new Error(`${kind.id}: process ${root} is gone (${(e as Error).message})`);
          }),
          ...(await Promise.all(children.map((pid) => processMemory(pid).catch(() => undefined)))),
        ];
        const sum = { rss: 0, pss: 0, uss: 0 };
        for (const m of each) if (m) for (const k of ['rss', 'pss', 'uss'] as const) sum[k] += m[k];
        return sum;
      }),
    );
    samples.push({ tMs: Math.round(t), processes });
    await sleep(kind.everyMs - ((performance.now() - t0) % kind.everyMs));
  }
  return samples;
}

/** What a round leaves running; stopped in the order it was started. */
type Stops = Array<() => unknown>;

/** The copies of the runtimes' binaries, one per kind (see the top of this file). */
interface Binaries {
  readonly sidecarBun: string;
  readonly bareBun: string;
  readonly sidecarNode: string;
}

/** `n` pods on the memory node, each with a sidecar started by `options`, one after another. */
async function startSidecars(
  cp: ControlPlane,
  prefix: string,
  n: number,
  options: Parameters<typeof startSidecar>[3],
  stops: Stops,
): Promise<RunningSidecar[]> {
  const sidecars: RunningSidecar[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    await createPod(cp, scenarioPod(name, 'memory-node', 'affinity', DEFAULT_SETTINGS));
    const s = await startSidecar(cp, NS, name, options);
    stops.push(() => s.stop());
    sidecars.push(s);
  }
  return sidecars;
}

/** `n` idle Bun processes with the sidecar's flags and environment: the runtime's own share. */
function startBareBun(bareBun: string, n: number, stops: Stops): ChildProcess[] {
  const bare: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(bareBun, [...SIDECAR_RUNTIME.flags, '-e', 'setInterval(() => {}, 1 << 30)'], {
      env: { PATH: process.env.PATH ?? '', ...SIDECAR_RUNTIME.env },
      stdio: 'ignore',
    });
    stops.push(() => c.kill());
    bare.push(c);
  }
  return bare;
}

/** The kinds that run N at a time: the shipped sidecar, the same bundle on Node, and bare Bun. */
async function scaledKinds(
  cp: ControlPlane,
  binaries: Binaries,
  n: number,
  sizes: MemorySizes,
  stops: Stops,
): Promise<{ kinds: Kind[]; sidecars: RunningSidecar[] }> {
  const onBun = await startSidecars(cp, `memory-${n}`, n, { executable: binaries.sidecarBun }, stops);
  // The same bundle on Node, side by side, with the flags that made it smallest there.
  const onNode = await startSidecars(
    cp,
    `memory-node-${n}`,
    n,
    { command: [binaries.sidecarNode, ...NODE_FLAGS, SIDECAR_BUNDLE] },
    stops,
  );
  const bare = startBareBun(binaries.bareBun, n, stops);
  const kinds: Kind[] = [
    {
      id: 'sidecar',
      words: `sidecar on Bun ${BUN_VERSION} (shipped), watching its node`,
      pids: async () => onBun.map((s) => [s.child.pid ?? 0]),
      everyMs: sizes.sampleEveryMs,
    },
    {
      id: 'sidecar-node',
      words: `sidecar on Node ${process.versions.node} (the same bundle, ${NODE_FLAGS.join(' ')}; measured, not shipped), watching its node`,
      pids: async () => onNode.map((s) => [s.child.pid ?? 0]),
      everyMs: sizes.sampleEveryMs,
    },
    {
      id: 'bare-bun',
      words: 'bare idle Bun, same flags (baseline)',
      pids: async () => bare.map((c) => [c.pid ?? 0]),
      everyMs: sizes.sampleEveryMs,
    },
  ];
  return { kinds, sidecars: [...onBun, ...onNode] };
}

/** The baselines that run once whatever N is: the original loop (per pod) and the descheduler (per cluster). */
async function baselineKinds(
  cp: ControlPlane,
  toolsDir: string,
  sizes: MemorySizes,
  stops: Stops,
): Promise<Kind[]> {
  await ensureNode(cp, 'memory-loop-node');
  await createPod(cp, scenarioPod('memory-loop', 'memory-loop-node', 'affinity'));
  const loop = await startLoop(cp, 'memory-loop-node', 'memory-loop');
  stops.push(() => loop.kill());
  const descheduler = await startDescheduler(cp, toolsDir, 120);
  stops.push(() => descheduler.stop());
  return [
    {
      id: 'kubectl-loop',
      words: `original loop: bash, and kubectl every ${LOOP_INTERVAL_S} s (per pod)`,
      pids: async () => [await processTree(loop.pid ?? 0)],
      everyMs: sizes.loopSampleEveryMs,
    },
    {
      id: 'descheduler',
      words: 'descheduler (one for the cluster)',
      pids: async () => [[descheduler.pid]],
      everyMs: sizes.sampleEveryMs,
    },
  ];
}

/** One N: every kind started, sampled side by side for the whole duration, then stopped. */
async function memoryRound(
  cp: ControlPlane,
  toolsDir: string,
  binaries: Binaries,
  n: number,
  withBaselines: boolean,
  sizes: MemorySizes,
  log: (line: string) => void,
): Promise<MemoryRun[]> {
  const stops: Stops = [];
  try {
    const { kinds, sidecars } = await scaledKinds(cp, binaries, n, sizes, stops);
    if (withBaselines) kinds.push(...(await baselineKinds(cp, toolsDir, sizes, stops)));
    const started = performance.now();
    const sampled = await Promise.all(kinds.map((k) => sample(k, sizes.durationMs)));
    // Each sidecar was watching its node, not retrying a failed start.
    await Promise.all(sidecars.map((s) => s.waitForLog((l) => l.msg === 'watching the node', 1)));
    log(`memory: N = ${n}: ${((performance.now() - started) / 1_000).toFixed(0)} s`);
    return kinds.map((k, i) => ({
      id: k.id,
      words: k.words,
      n: k.id.startsWith('sidecar') || k.id === 'bare-bun' ? n : 1,
      samples: sampled[i] ?? [],
      sampleEveryMs: k.everyMs,
    }));
  } finally {
    for (const stop of stops) await stop();
  }
}

export async function memoryBench(
  cp: ControlPlane,
  toolsDir: string,
  sizes: MemorySizes,
  log: (line: string) => void,
): Promise<MemoryRaw> {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-memory-'));
  const binaries: Binaries = {
    sidecarBun: await binaryCopy(sidecarRuntime(), dir, 'bun-sidecar'),
    bareBun: await binaryCopy(sidecarRuntime(), dir, 'bun-bare'),
    sidecarNode: await binaryCopy(process.execPath, dir, 'node-sidecar'),
  };
  const runs: MemoryRun[] = [];
  await ensureNode(cp, 'memory-node');
  try {
    for (const [round, n] of sizes.ns.entries()) {
      runs.push(...(await memoryRound(cp, toolsDir, binaries, n, round === 0, sizes, log)));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { durationMs: sizes.durationMs, steadyAfterMs: sizes.steadyAfterMs, runs };
}
