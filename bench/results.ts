/** Reading the raw result files (no dependencies beyond node: the unit tests read them too). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRaw } from './tables.ts';

/** The checkout's root, ending in a slash: the benchmarks find the README, bench/ and the built bundles from it. */
export const ROOT_DIR = fileURLToPath(new URL('../', import.meta.url));
export const BENCHES = ['admission', 'reaction', 'memory', 'mass', 'images'] as const;
export type Bench = (typeof BENCHES)[number];

/** The raw samples of every benchmark whose file is in `dir` (null for the others). */
export async function readRaw(dir: string): Promise<BenchRaw> {
  const raw: Record<string, unknown> = {};
  for (const bench of BENCHES) {
    raw[bench] = JSON.parse(await readFile(join(dir, `${bench}.json`), 'utf8').catch(() => 'null'));
  }
  return raw as unknown as BenchRaw;
}
