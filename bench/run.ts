/**
 * npm run bench: every benchmark in one run, each figure next to its baseline measured in the same run.
 * Prints the tables and writes bench/results/bench.{json,md}.
 *
 *   node bench/run.ts [--smoke] [--out DIR]
 *
 * --smoke runs each benchmark with tiny sizes (the test command does, so that they cannot rot).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startControlPlane } from '@sidecar-destruct/test';
import { admissionBench } from './admission.ts';
import { footprintBench } from './footprint.ts';
import { machine, markdown, sidecarNamespace, type Table } from './lib.ts';
import { reactionBench } from './reaction.ts';
import { scaleBench } from './scale.ts';

const { values } = parseArgs({
  options: { smoke: { type: 'boolean', default: false }, out: { type: 'string', default: 'bench/results' } },
});
const smoke = values.smoke;
const sizes = smoke
  ? {
      admissionS: 1,
      rate: 100,
      connections: 4,
      samples: 1,
      settleMs: 500,
      trials: 2,
      scale: [2],
      idleMs: 2_000,
    }
  : {
      admissionS: 10,
      rate: 1_000,
      connections: 20,
      samples: 3,
      settleMs: 4_000,
      trials: 20,
      scale: [10, 50, 100],
      idleMs: 60_000,
    };

const tables: Table[] = [];
const started = new Date();
tables.push(
  await admissionBench({
    durationS: sizes.admissionS,
    fixedRate: sizes.rate,
    connections: sizes.connections,
  }),
);
console.log(markdown(tables.at(-1) as Table));

const cp = await startControlPlane();
let version = '';
try {
  version = JSON.parse(await cp.kubectl(['version', '-o', 'json'])).serverVersion.gitVersion;
  await sidecarNamespace(cp);
  for (const run of [
    () => footprintBench(cp, sizes.samples, sizes.settleMs),
    () => reactionBench(cp, sizes.trials),
    () => scaleBench(cp, sizes.scale, sizes.idleMs),
  ]) {
    tables.push(await run());
    console.log(markdown(tables.at(-1) as Table));
  }
} finally {
  await cp.stop();
}

const header = `sidecar-destruct benchmarks${smoke ? ' (smoke: tiny sizes, figures not meaningful)' : ''}: ${started.toISOString()}; ${machine()}; kube-apiserver ${version}`;
const md = [`## ${header}`, '', ...tables.map(markdown)].join('\n');
await mkdir(values.out, { recursive: true });
await writeFile(join(values.out, 'bench.md'), `${md}\n`);
await writeFile(join(values.out, 'bench.json'), `${JSON.stringify({ header, tables }, null, 2)}\n`);
console.log(header);
