/**
 * The benchmark figures cannot drift: bench/results/bench.json and the README's benchmark blocks must be what the
 * raw samples in bench/results/ say, recomputed here by the same pure functions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT_DIR, readRaw } from '../../bench/results.ts';
import {
  benchTables,
  quantile,
  readmeBlocks,
  renderReadme,
  slope,
  summarizeMemory,
  summarizeReaction,
} from '../../bench/tables.ts';

const RESULTS = join(ROOT_DIR, 'bench/results');

describe('benchmark statistics', () => {
  it('interpolates quantiles between closest ranks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 0, 5], 0.99)).toBeCloseTo(9.9);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('fits the slope that adding one process adds', () => {
    expect(
      slope([
        [1, 50],
        [10, 95],
        [25, 170],
      ]),
    ).toBeCloseTo(5);
  });

  it('counts trials that never acted apart from the quantiles', () => {
    const [s] = summarizeReaction({
      loopIntervalS: 10,
      approaches: [
        {
          id: 'x',
          words: 'x',
          atOnce: 1,
          trials: [
            { scenario: 'selector', reactedMs: 10, waitedMs: 100 },
            { scenario: 'selector', reactedMs: null, waitedMs: 100 },
            { scenario: 'selector', reactedMs: 30, waitedMs: 100 },
          ],
        },
      ],
    });
    expect(s).toMatchObject({ acted: 2, trials: 3, p50: 20, max: 30 });
  });

  it('takes steady-state memory only from the samples after start-up', () => {
    const [m] = summarizeMemory({
      durationMs: 20_000,
      steadyAfterMs: 10_000,
      runs: [
        {
          id: 'sidecar',
          words: 'sidecar',
          n: 2,
          sampleEveryMs: 5_000,
          samples: [
            { tMs: 0, processes: [{ rss: 99_999, pss: 99_999, uss: 99_999 }] },
            {
              tMs: 10_000,
              processes: [
                { rss: 2_048, pss: 1_024, uss: 512 },
                { rss: 2_048, pss: 1_024, uss: 512 },
              ],
            },
            {
              tMs: 15_000,
              processes: [
                { rss: 4_096, pss: 3_072, uss: 512 },
                { rss: 2_048, pss: 1_024, uss: 512 },
              ],
            },
          ],
        },
      ],
    });
    expect(m).toMatchObject({ pss: 3, uss: 1, samples: 2 });
    expect(m?.peakRss).toBeCloseTo(99_999 / 1_024);
  });
});

describe('bench/results', async () => {
  const raw = await readRaw(RESULTS);

  it('holds the raw samples of a full run of every benchmark', () => {
    for (const [bench, r] of Object.entries(raw)) {
      expect(r, `bench/results/${bench}.json`).not.toBeNull();
      expect(r?.smoke, `${bench}.json is a smoke run`).toBe(false);
    }
  });

  it('bench.json is what the raw samples say', () => {
    const stored = JSON.parse(readFileSync(join(RESULTS, 'bench.json'), 'utf8'));
    expect(stored).toEqual(JSON.parse(JSON.stringify(benchTables(raw))));
  });

  it("the README's figures are what the raw samples say (node bench/readme.ts writes them)", () => {
    const readme = readFileSync(join(ROOT_DIR, 'README.md'), 'utf8');
    expect(renderReadme(readme, readmeBlocks(raw))).toBe(readme);
  });
});
