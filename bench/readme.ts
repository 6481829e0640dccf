/**
 * Writes the README's benchmark figures from the raw samples in bench/results/ (npm run bench calls it last).
 *   node bench/readme.ts [--check]
 * --check changes nothing and fails when the README differs (the unit tests check the same).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT_DIR, readRaw } from './results.ts';
import { readmeBlocks, renderReadme } from './tables.ts';

const path = join(ROOT_DIR, 'README.md');
const readme = await readFile(path, 'utf8');
const next = renderReadme(readme, readmeBlocks(await readRaw(join(ROOT_DIR, 'bench/results'))));
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md: the benchmark figures differ from bench/results/; run node bench/readme.ts');
    process.exit(1);
  }
} else if (next !== readme) {
  await writeFile(path, next);
  console.error('README.md: benchmark figures updated from bench/results/');
}
