import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';
import type { Rule } from '../src/core/rule.js';
import type { Settings } from '../src/core/settings.js';
import { type Effect, INITIAL, next, type Observation, type Policy, type State } from '../src/decide.js';

const USB = 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present';
const rule: Rule = { source: 'pod', nodeSelector: { [USB]: 'true' } };
const plugged: Observation = {
  type: 'node',
  node: { metadata: { name: 'pi', labels: { [USB]: 'true' } } } as V1Node,
};
const unplugged: Observation = { type: 'node', node: { metadata: { name: 'pi', labels: {} } } as V1Node };
const deleted: Observation = { type: 'node-deleted', nodeName: 'pi' };
const timer: Observation = { type: 'timer' };

const policy = (settings: Partial<Settings> = {}): Policy => ({
  rule,
  settings: { gracePeriodMs: 0, action: 'delete', dryRun: false, ...settings },
  retryDelay: (attempt) => 1_000 * attempt,
});

/** Feeds observations at the given times; returns every effect and the final state. */
function play(p: Policy, steps: ReadonlyArray<readonly [number, Observation]>) {
  let state: State = INITIAL;
  const effects: Array<[number, Effect]> = [];
  for (const [now, observation] of steps) {
    const step = next(state, observation, now, p);
    state = step.state;
    if (step.effect.type !== 'none') effects.push([now, step.effect]);
  }
  return { state, effects };
}

describe('the decision', () => {
  it('acts at once on a fresh mismatch when there is no grace period', () => {
    const { effects, state } = play(policy(), [
      [0, plugged],
      [10, unplugged],
    ]);
    expect(effects).toEqual([
      [
        10,
        {
          type: 'act',
          reason: expect.stringContaining(`node has no label ${USB}`),
          dryRun: false,
          attempt: 1,
        },
      ],
    ]);
    expect(state.phase).toBe('acting');
  });

  it('does nothing while the node matches', () => {
    expect(
      play(policy(), [
        [0, plugged],
        [5, plugged],
        [9, timer],
      ]).effects,
    ).toEqual([]);
  });

  it('treats a deleted node as a mismatch', () => {
    const { effects } = play(policy(), [[0, deleted]]);
    expect(effects).toEqual([[0, expect.objectContaining({ type: 'act', reason: 'node pi was deleted' })]]);
  });

  describe('grace period', () => {
    it('starts a timer on the first mismatch, then asks for a fresh read when it runs out', () => {
      const { effects } = play(policy({ gracePeriodMs: 30_000 }), [
        [0, unplugged],
        [30_000, timer],
      ]);
      expect(effects).toEqual([
        [0, { type: 'wake', at: 30_000 }],
        [30_000, { type: 'confirm' }],
      ]);
    });

    it('acts when the fresh read after the grace period still fails', () => {
      const { effects } = play(policy({ gracePeriodMs: 30_000 }), [
        [0, unplugged],
        [30_000, timer],
        [30_050, unplugged],
      ]);
      expect(effects.at(-1)).toEqual([30_050, expect.objectContaining({ type: 'act' })]);
    });

    it('is cancelled by a match before it runs out', () => {
      const { effects, state } = play(policy({ gracePeriodMs: 30_000 }), [
        [0, unplugged],
        [10_000, plugged],
        [30_000, timer],
      ]);
      expect(effects).toEqual([[0, { type: 'wake', at: 30_000 }]]);
      expect(state).toEqual(INITIAL);
    });

    it('restarts from zero after a flap: a mismatch, a match, a mismatch', () => {
      const { effects } = play(policy({ gracePeriodMs: 30_000 }), [
        [0, unplugged],
        [10_000, plugged],
        [20_000, unplugged],
        [30_000, timer],
        [50_000, timer],
        [50_010, unplugged],
      ]);
      expect(effects).toEqual([
        [0, { type: 'wake', at: 30_000 }],
        [20_000, { type: 'wake', at: 50_000 }],
        // The first timer, now stale, only re-arms the current deadline.
        [30_000, { type: 'wake', at: 50_000 }],
        [50_000, { type: 'confirm' }],
        [50_010, expect.objectContaining({ type: 'act' })],
      ]);
    });

    it('does not re-arm the timer on repeated mismatches', () => {
      const { effects } = play(policy({ gracePeriodMs: 30_000 }), [
        [0, unplugged],
        [1_000, unplugged],
        [2_000, deleted],
      ]);
      expect(effects).toEqual([[0, { type: 'wake', at: 30_000 }]]);
    });

    it('acts on a fresh mismatch that arrives after the deadline even before the timer', () => {
      const { effects } = play(policy({ gracePeriodMs: 30_000 }), [
        [0, unplugged],
        [31_000, unplugged],
      ]);
      expect(effects.at(-1)).toEqual([31_000, expect.objectContaining({ type: 'act' })]);
    });

    it('re-arms a timer that fires before the deadline, instead of forgetting it', () => {
      const { effects } = play(policy({ gracePeriodMs: 30_000 }), [
        [0, unplugged],
        [29_999, timer],
        [30_000, timer],
      ]);
      expect(effects).toEqual([
        [0, { type: 'wake', at: 30_000 }],
        [29_999, { type: 'wake', at: 30_000 }],
        [30_000, { type: 'confirm' }],
      ]);
    });

    it('never acts on the timer alone, however late it fires', () => {
      const { effects } = play(policy({ gracePeriodMs: 30_000 }), [
        [0, unplugged],
        [30_000, timer],
        [90_000, timer],
        [600_000, timer],
      ]);
      expect(effects.filter(([, e]) => e.type === 'act')).toEqual([]);
    });
  });

  describe('failures of the action', () => {
    it('retries after a backoff, with a fresh read first', () => {
      const { effects } = play(policy(), [
        [0, unplugged],
        [100, { type: 'acted', result: 'retry', detail: 'HTTP 429: disruption budget' }],
        [2_100, timer],
        [2_150, unplugged],
      ]);
      expect(effects).toEqual([
        [0, expect.objectContaining({ type: 'act', attempt: 1 })],
        [100, { type: 'wake', at: 2_100 }],
        [2_100, { type: 'confirm' }],
        [2_150, expect.objectContaining({ type: 'act', attempt: 2 })],
      ]);
    });

    it('re-arms a retry timer that fires a millisecond early (found by the PDB e2e test)', () => {
      const { effects } = play(policy(), [
        [0, unplugged],
        [100, { type: 'acted', result: 'retry' }],
        [2_099, timer],
        [2_100, timer],
      ]);
      expect(effects.slice(1)).toEqual([
        [100, { type: 'wake', at: 2_100 }],
        [2_099, { type: 'wake', at: 2_100 }],
        [2_100, { type: 'confirm' }],
      ]);
    });

    it('gives up the retry when the node matches again meanwhile', () => {
      const { effects, state } = play(policy(), [
        [0, unplugged],
        [100, { type: 'acted', result: 'retry' }],
        [500, plugged],
        [2_100, timer],
      ]);
      expect(effects.map(([, e]) => e.type)).toEqual(['act', 'wake']);
      expect(state).toEqual(INITIAL);
    });

    it('stays done after the pod is deleted, whatever comes next', () => {
      const { effects, state } = play(policy(), [
        [0, unplugged],
        [100, { type: 'acted', result: 'deleted' }],
        [200, plugged],
        [300, unplugged],
        [400, timer],
      ]);
      expect(effects).toHaveLength(1);
      expect(state).toEqual({ phase: 'done', outcome: 'deleted' });
    });

    it('ignores observations while the action is in flight', () => {
      const { effects } = play(policy(), [
        [0, unplugged],
        [10, unplugged],
        [20, plugged],
        [30, unplugged],
      ]);
      expect(effects).toHaveLength(1);
    });
  });

  describe('dry run', () => {
    it('reports once per lost constraint and never leaves the matching cycle', () => {
      const { effects, state } = play(policy({ dryRun: true }), [
        [0, unplugged],
        [10, unplugged],
        [20, plugged],
        [30, unplugged],
      ]);
      expect(effects).toEqual([
        [0, expect.objectContaining({ type: 'act', dryRun: true })],
        [30, expect.objectContaining({ type: 'act', dryRun: true })],
      ]);
      expect(state.phase).toBe('reported');
    });
  });
});

describe('backoff', () => {
  const options = { baseMs: 200, capMs: 30_000 };
  it.each([1, 2, 5, 10, 50])('stays within [ceiling/2, ceiling] at attempt %d', (attempt) => {
    const ceiling = Math.min(options.capMs, options.baseMs * 2 ** (attempt - 1));
    expect(backoffDelay(attempt, options, () => 0)).toBe(ceiling / 2);
    expect(backoffDelay(attempt, options, () => 0.999_999)).toBeLessThanOrEqual(ceiling);
    expect(backoffDelay(attempt, options, () => 0.5)).toBeGreaterThan(ceiling / 2);
  });

  it('never exceeds the cap', () => {
    expect(backoffDelay(1_000, options, () => 1)).toBe(options.capMs);
  });
});
