/**
 * npm run bench: every benchmark on one control plane, each figure next to its baseline measured in the same run.
 * Writes the raw samples (bench/results/{admission,reaction,memory,mass,images}.json), then the tables computed from them
 * (bench.json, bench.md), and prints the tables.
 *
 *   node bench/run.ts [--smoke] [--out DIR] [--only admission,reaction,memory,mass,images]
 *
 * --smoke runs each benchmark with tiny sizes (the test command does, so that they cannot rot; its figures mean
 * nothing). --only reruns some benchmarks and recomputes the tables with the other raw files already in DIR;
 * `--only tables` reruns none and only recomputes the tables.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sidecarNamespace } from '@sidecar-destruct/infra';
import { sidecarRuntime, startControlPlane } from '@sidecar-destruct/testkit';
import { type AdmissionSizes, admissionBench } from './admission.ts';
import { imagesBench } from './images.ts';
import { benchTools, binaryCopy, Deletions, machine, NS, rest, toolVersions } from './lib.ts';
import { massBench } from './mass.ts';
import { type MemorySizes, memoryBench } from './memory.ts';
import { type ReactionSizes, reactionBench } from './reaction.ts';
import { BENCHES, type Bench, readRaw } from './results.ts';
import { benchTables, markdown } from './tables.ts';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
    only: { type: 'string', default: BENCHES.join(',') },
  },
});
const smoke = values.smoke;
const only = new Set(values.only.split(',') as Bench[]);
const SIZES: {
  admission: AdmissionSizes;
  reaction: ReactionSizes;
  memory: MemorySizes;
  mass: { ns: number[]; idleWindowMs: number };
} = smoke
  ? {
      admission: { durationS: 1, rates: [100], maxConnections: 4 },
      reaction: {
        trials: 1,
        deschedulerTrials: [1, 1],
        deschedulerDefaultTrials: [0, 0],
        deschedulerSpreadIntervals: 1,
      },
      memory: {
        ns: [1, 2],
        durationMs: 6_000,
        steadyAfterMs: 2_000,
        sampleEveryMs: 1_000,
        loopSampleEveryMs: 100,
      },
      mass: { ns: [2], idleWindowMs: 2_000 },
    }
  : {
      admission: { durationS: 10, rates: [200, 1_000], maxConnections: 20 },
      reaction: {
        trials: 50,
        deschedulerTrials: [50, 10],
        deschedulerDefaultTrials: [50, 3],
        deschedulerSpreadIntervals: 20,
      },
      memory: {
        ns: [1, 10, 25],
        durationMs: 300_000,
        steadyAfterMs: 60_000,
        sampleEveryMs: 5_000,
        loopSampleEveryMs: 100,
      },
      mass: { ns: [10, 50, 100], idleWindowMs: 60_000 },
    };

const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
const out = values.out;
await mkdir(out, { recursive: true });
const started = new Date();
const toolsDir = BENCHES.some((b) => only.has(b)) ? await benchTools() : '';
const context = { started: started.toISOString(), machine: machine(), smoke };

async function save(bench: Bench, raw: object): Promise<void> {
  await writeFile(join(out, `${bench}.json`), `${JSON.stringify({ ...context, ...raw })}\n`);
}

if (only.has('admission')) {
  await save('admission', {
    versions: toolVersions(toolsDir),
    ...(await admissionBench(toolsDir, SIZES.admission, log)),
  });
}

if (only.has('reaction') || only.has('memory') || only.has('mass')) {
  const cp = await startControlPlane();
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-bench-node-'));
  try {
    const kubeApiServer = JSON.parse(await cp.kubectl(['version', '-o', 'json'])).serverVersion.gitVersion;
    // The sidecars of every benchmark here run on the shipped runtime (the memory benchmark adds Node beside it).
    const sidecar = `Bun ${(await readFile(new URL('../.bun-version', import.meta.url), 'utf8')).trim()}`;
    const versions = { kubeApiServer, sidecar, ...toolVersions(toolsDir) };
    await sidecarNamespace(cp, NS);
    // No controller-manager here to create it; the baselines' pods run as the namespace's default account.
    await rest(cp, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: 'default' } });
    // The sidecars run from their own copy of their runtime: see bench/memory.ts.
    const sidecarBinary = await binaryCopy(sidecarRuntime(), dir, 'sidecar-runtime');
    // One deletion clock per benchmark: each watch stays well inside its one-hour timeout.
    const timed = async <T>(run: (deletions: Deletions) => Promise<T>): Promise<T> => {
      const deletions = await Deletions.start(cp);
      try {
        return await run(deletions);
      } finally {
        deletions.stop();
      }
    };
    if (only.has('reaction')) {
      const raw = await timed((d) => reactionBench(cp, d, toolsDir, sidecarBinary, SIZES.reaction, log));
      await save('reaction', { versions, ...raw });
    }
    if (only.has('memory')) {
      await save('memory', { versions, ...(await memoryBench(cp, toolsDir, SIZES.memory, log)) });
    }
    if (only.has('mass')) {
      const raw = await timed((d) => massBench(cp, d, toolsDir, sidecarBinary, SIZES.mass, log));
      await save('mass', { versions, ...raw });
    }
  } finally {
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (only.has('images')) await save('images', { versions: {}, ...(await imagesBench(log)) });

const { header, tables } = benchTables(await readRaw(out));
await writeFile(join(out, 'bench.json'), `${JSON.stringify({ header, tables }, null, 2)}\n`);
const md = [`## ${header}`, '', ...tables.map(markdown)].join('\n');
await writeFile(join(out, 'bench.md'), `${md}\n`);
console.log(md);
