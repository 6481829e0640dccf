import type { V1Node } from '@kubernetes/client-node';
import { DEFAULT_SETTINGS, type Rule, type Settings } from '@sidecar-destruct/core';
import { describe, expect, it } from 'vitest';
import {
  type Effect,
  grantAdvice,
  INITIAL,
  next,
  type Observation,
  type Policy,
  SETTLE_MS,
  type State,
} from '../src/pure/decide.js';

const USB = 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present';
const CPU = 'feature.node.kubernetes.io/cpu-cpuid.AVX2';
const rule: Rule = { source: 'pod', nodeSelector: { [USB]: 'true' } };
const nodeWith = (labels: Record<string, string>): V1Node => ({ metadata: { name: 'pi', labels } });
const NODES = {
  plugged: nodeWith({ [USB]: 'true', [CPU]: 'true' }),
  unplugged: nodeWith({ [CPU]: 'true' }),
  /** NFD's worker restarting: every NFD label gone. */
  nfdGone: nodeWith({ 'kubernetes.io/arch': 'arm64' }),
};
type Seen = keyof typeof NODES | 'deleted';

const of = (seen: Seen) =>
  seen === 'deleted'
    ? ({ type: 'node-deleted', nodeName: 'pi' } as const)
    : ({ type: 'node', node: NODES[seen] } as const);
/** A watch event: possibly replayed history. */
const event = (seen: Seen): Observation => of(seen);
/** The answer to the read the machine asked for, sent at `sentAt`. */
const answer = (seen: Seen, sentAt: number): Observation => ({
  ...of(seen),
  read: { sentAt, requested: true },
});
/** The watch loop's own read before it watches. */
const relist = (seen: Seen, sentAt: number): Observation => ({
  ...of(seen),
  read: { sentAt, requested: false },
});
const timer: Observation = { type: 'timer' };
const readFailed: Observation = { type: 'read-failed', detail: 'unreachable: ECONNRESET' };

const policy = (settings: Partial<Settings> = {}): Policy => ({
  rule,
  settings: { ...DEFAULT_SETTINGS, gracePeriodMs: 0, ...settings },
  retryDelay: (attempt, retryAfterMs) => Math.max(1_000 * attempt, retryAfterMs ?? 0),
});

/** The watch has long been up: what the machine sees in a healthy sidecar. */
const WATCHING: State = { ...INITIAL, link: { up: true, since: -60_000 } };
const watchUp: Observation = { type: 'watch', up: true };
const watchDown: Observation = { type: 'watch', up: false };

/** Feeds observations at the given (monotonic) times; returns every effect and the final state. */
function play(p: Policy, steps: ReadonlyArray<readonly [number, Observation]>, from: State = WATCHING) {
  let state: State = from;
  const effects: Array<[number, Effect]> = [];
  for (const [now, observation] of steps) {
    const step = next(state, observation, now, p);
    state = step.state;
    for (const effect of step.effects) effects.push([now, effect]);
  }
  return { state, effects };
}

const acts = (effects: Array<[number, Effect]>) => effects.filter(([, e]) => e.type === 'act');
const DELETE_1 = { type: 'act', action: 'delete', attempt: 1 } as const;

/** A 30 s grace period that a second mismatch at 20 s starts again: one read at 50 s, then the act. */
const GRACE_RESTARTED_AT_20S = [
  [0, { type: 'wake', at: 30_000 }],
  [20_000, { type: 'wake', at: 50_000 }],
  [30_000, { type: 'wake', at: 50_000 }],
  [50_000, { type: 'read-node' }],
  [50_010, expect.objectContaining({ type: 'record' })],
  [50_010, DELETE_1],
];

describe('acting only on a current read made after the grace period', () => {
  it('answers a mismatch seen in a watch event with a read, and acts on its answer, recording the Event beside it', () => {
    const { effects, state } = play(policy(), [
      [0, relist('plugged', 0)],
      [10, event('unplugged')],
      [15, answer('unplugged', 10)],
    ]);
    expect(effects).toEqual([
      [10, { type: 'read-node' }],
      [
        15,
        {
          type: 'record',
          reason: 'NodeConstraintLost',
          message: expect.stringContaining('deleting the pod: node'),
        },
      ],
      [15, DELETE_1],
    ]);
    expect(state.phase).toBe('acting');
  });

  it('deletes nothing when a replayed removal is contradicted by the read (label removed and restored while the watch was down)', () => {
    const { effects, state } = play(policy(), [
      [0, relist('plugged', 0)],
      [10, event('unplugged')], // replayed after a reconnect
      [11, event('plugged')], // replayed: the label came back
      [30, answer('plugged', 10)],
    ]);
    expect(acts(effects)).toEqual([]);
    expect(state.phase).toBe('matching');
  });

  it("never acts on an answer that an event of the label's return overtook, even at grace 0", () => {
    // The read is served while the label is gone; the label comes back and that event arrives before the answer.
    const overtaken = play(policy(), [
      [0, relist('plugged', 0)],
      [10, event('unplugged')],
      [12, event('plugged')],
      [15, answer('unplugged', 10)],
    ]);
    expect(acts(overtaken.effects)).toEqual([]);
    // The stale answer only starts a new wait, which a read of its own settles.
    expect(overtaken.effects.at(-1)).toEqual([15, { type: 'read-node' }]);
    // And when the label went again before the stale answer, that answer was sent before the new wait began.
    const again = play(policy(), [
      [0, relist('plugged', 0)],
      [10, event('unplugged')],
      [12, event('plugged')],
      [14, event('unplugged')],
      [15, answer('unplugged', 10)],
      [20, answer('plugged', 15)],
    ]);
    expect(acts(again.effects)).toEqual([]);
    expect(again.state.phase).toBe('matching');
  });

  it("starts the grace period afresh on the watch loop's relist: history lost to a 410 may hide a return", () => {
    const grace = policy({ gracePeriodMs: 30_000 });
    const { effects } = play(grace, [
      [0, event('unplugged')],
      [20_000, relist('unplugged', 19_990)],
      [30_000, timer],
      [50_000, timer],
      [50_010, answer('unplugged', 50_000)],
    ]);
    expect(effects).toEqual(GRACE_RESTARTED_AT_20S);
  });

  it("confirms the watch loop's own read with a read of its own when there is no grace period", () => {
    const { effects } = play(policy(), [[0, relist('unplugged', 0)]]);
    expect(effects).toEqual([[0, { type: 'read-node' }]]);
  });

  it('asks for one read at a time, however many events arrive meanwhile', () => {
    expect(
      play(policy(), [
        [0, event('unplugged')],
        [1, event('unplugged')],
        [2, event('deleted')],
      ]).effects,
    ).toEqual([[0, { type: 'read-node' }]]);
  });

  it('treats a deleted node as a mismatch, confirmed by the read', () => {
    const { effects } = play(policy(), [
      [0, event('deleted')],
      [5, answer('deleted', 0)],
    ]);
    expect(effects.at(-1)).toEqual([5, DELETE_1]);
    expect(effects).toContainEqual([
      5,
      expect.objectContaining({ message: expect.stringContaining('node pi was deleted') }),
    ]);
  });

  it('does nothing while the node matches', () => {
    expect(
      play(policy(), [
        [0, relist('plugged', 0)],
        [5, event('plugged')],
        [9, timer],
      ]).effects,
    ).toEqual([]);
  });

  it('never acts on a failed read: it waits with a growing backoff and reads again', () => {
    const { effects, state } = play(policy(), [
      [0, event('unplugged')],
      [10, readFailed],
      [1_010, timer],
      [1_020, { type: 'read-failed', detail: 'HTTP 429', retryAfterMs: 7_000 }],
      [8_020, timer],
    ]);
    expect(effects).toEqual([
      [0, { type: 'read-node' }],
      [10, { type: 'wake', at: 1_010 }],
      [1_010, { type: 'read-node' }],
      // The server's Retry-After (7 s) outweighs the second backoff (2 s).
      [1_020, { type: 'wake', at: 8_020 }],
      [8_020, { type: 'read-node' }],
    ]);
    expect(state.phase).toBe('pending');
  });

  it('keeps to the read backoff when watch events keep coming', () => {
    const steps: Array<[number, Observation]> = [
      [0, event('unplugged')],
      [10, { type: 'read-failed', detail: 'HTTP 429', retryAfterMs: 30_000 }],
    ];
    for (let t = 100; t < 30_000; t += 100) steps.push([t, event('unplugged')]);
    const reads = play(policy(), steps).effects.filter(([, e]) => e.type === 'read-node');
    expect(reads).toEqual([[0, { type: 'read-node' }]]);
  });
});

describe('reading only while the watch is up', () => {
  const grace = policy({ gracePeriodMs: 3_000 });

  it('reads nothing while the watch is down, and reads once it is back and has replayed', () => {
    const { effects } = play(grace, [
      [0, event('unplugged')],
      [1_000, watchDown],
      [3_000, timer],
      [9_000, watchUp],
      [9_000 + SETTLE_MS, timer],
    ]);
    expect(effects).toEqual([
      [0, { type: 'wake', at: 3_000 }],
      [9_000, { type: 'wake', at: 9_000 + SETTLE_MS }],
      [9_000 + SETTLE_MS, { type: 'read-node' }],
    ]);
  });

  it('deletes nothing for two short flaps that a blind sidecar would sample as one long mismatch', () => {
    // Flap A is seen and the watch drops before its end is; when the watch is back its replay shows the
    // label's return before any read can be made, and flap B, shorter than the grace, ends before a read.
    const { effects, state } = play(grace, [
      [0, event('unplugged')],
      [500, watchDown],
      [3_000, timer],
      [20_000, watchUp],
      [20_010, event('plugged')],
      [20_020, event('unplugged')],
      [20_030, event('plugged')],
    ]);
    expect(acts(effects)).toEqual([]);
    expect(effects.filter(([, e]) => e.type === 'read-node')).toEqual([]);
    expect(state.phase).toBe('matching');
  });

  it('does not act on an answer that arrives after the watch went down', () => {
    const { effects } = play(grace, [
      [0, event('unplugged')],
      [3_000, timer],
      [3_005, watchDown],
      [3_010, answer('unplugged', 3_000)],
    ]);
    expect(acts(effects)).toEqual([]);
  });

  it('waits for a watch that just came up to settle before reading', () => {
    const early = play(
      grace,
      [
        [0, relist('unplugged', 0)],
        [2_900, watchUp],
        [3_000, timer],
        [2_900 + SETTLE_MS, timer],
        [3_600, answer('unplugged', 2_900 + SETTLE_MS)],
      ],
      INITIAL,
    );
    expect(early.effects.slice(0, 3)).toEqual([
      [0, { type: 'wake', at: 3_000 }],
      [3_000, { type: 'wake', at: 2_900 + SETTLE_MS }],
      [2_900 + SETTLE_MS, { type: 'read-node' }],
    ]);
    expect(acts(early.effects)).toEqual([[3_600, DELETE_1]]);
  });
});

describe('grace period', () => {
  const grace = policy({ gracePeriodMs: 30_000 });

  it('starts a timer on the first mismatch, then asks for a read when it runs out', () => {
    expect(
      play(grace, [
        [0, relist('unplugged', 0)],
        [30_000, timer],
      ]).effects,
    ).toEqual([
      [0, { type: 'wake', at: 30_000 }],
      [30_000, { type: 'read-node' }],
    ]);
  });

  it('acts when the read after the grace period still fails the rule', () => {
    const { effects } = play(grace, [
      [0, event('unplugged')],
      [30_000, timer],
      [30_050, answer('unplugged', 30_000)],
    ]);
    expect(effects.at(-1)).toEqual([30_050, DELETE_1]);
  });

  it('is cancelled by a match before it runs out', () => {
    const { effects, state } = play(grace, [
      [0, relist('unplugged', 0)],
      [10_000, event('plugged')],
      [30_000, timer],
    ]);
    expect(effects).toEqual([[0, { type: 'wake', at: 30_000 }]]);
    expect(state.phase).toBe('matching');
  });

  it('restarts from zero after a flap: a mismatch, a match, a mismatch', () => {
    const { effects } = play(grace, [
      [0, relist('unplugged', 0)],
      [10_000, event('plugged')],
      [20_000, event('unplugged')],
      [30_000, timer],
      [50_000, timer],
      [50_010, answer('unplugged', 50_000)],
    ]);
    // The first timer, now stale, only re-arms the current deadline.
    expect(effects).toEqual(GRACE_RESTARTED_AT_20S);
  });

  it('does not re-arm the timer on repeated mismatches', () => {
    expect(
      play(grace, [
        [0, relist('unplugged', 0)],
        [1_000, event('unplugged')],
        [2_000, event('deleted')],
      ]).effects,
    ).toEqual([[0, { type: 'wake', at: 30_000 }]]);
  });

  it('re-arms a timer that fires before the deadline, instead of forgetting it', () => {
    expect(
      play(grace, [
        [0, relist('unplugged', 0)],
        [29_999, timer],
        [30_000, timer],
      ]).effects,
    ).toEqual([
      [0, { type: 'wake', at: 30_000 }],
      [29_999, { type: 'wake', at: 30_000 }],
      [30_000, { type: 'read-node' }],
    ]);
  });

  it('never acts on the timer alone, however late it fires', () => {
    const { effects } = play(grace, [
      [0, relist('unplugged', 0)],
      [30_000, timer],
      [90_000, timer],
      [600_000, timer],
    ]);
    expect(acts(effects)).toEqual([]);
  });

  it('has a default that outlasts an API hiccup and acts within seconds on a real unplug', () => {
    expect(DEFAULT_SETTINGS.gracePeriodMs).toBeGreaterThanOrEqual(5_000);
    expect(DEFAULT_SETTINGS.gracePeriodMs).toBeLessThanOrEqual(30_000);
  });
});

describe('node-feature-discovery outages', () => {
  const nfd = policy({ gracePeriodMs: 10_000, nfdOutageGracePeriodMs: 300_000 });

  it('holds off while every NFD label is gone (a worker restart) and deletes nothing when they come back', () => {
    const { effects, state } = play(nfd, [
      [0, relist('plugged', 0)],
      [1_000, event('nfdGone')],
      [11_000, timer], // the ordinary grace would have run out here
      [40_000, event('plugged')], // the worker is back
    ]);
    expect(acts(effects)).toEqual([]);
    expect(effects[0]).toEqual([1_000, { type: 'wake', at: 301_000 }]);
    expect(state.phase).toBe('matching');
  });

  it('still acts within the ordinary grace when only the device label goes', () => {
    const { effects } = play(nfd, [
      [0, relist('plugged', 0)],
      [1_000, event('unplugged')],
      [11_000, timer],
      [11_020, answer('unplugged', 11_000)],
    ]);
    expect(effects[0]).toEqual([1_000, { type: 'wake', at: 11_000 }]);
    expect(acts(effects)).toEqual([[11_020, DELETE_1]]);
  });

  it('acts all the same when the outage outlasts its bound', () => {
    const { effects } = play(nfd, [
      [0, event('nfdGone')],
      [300_000, timer],
      [300_010, answer('nfdGone', 300_000)],
    ]);
    expect(acts(effects)).toEqual([[300_010, DELETE_1]]);
  });

  it('starts the ordinary grace afresh when NFD comes back without the device label', () => {
    const { effects } = play(nfd, [
      [0, event('nfdGone')],
      [60_000, event('unplugged')],
      [70_000, timer],
      [70_010, answer('unplugged', 70_000)],
    ]);
    expect(effects).toContainEqual([60_000, { type: 'wake', at: 70_000 }]);
    expect(acts(effects)).toEqual([[70_010, DELETE_1]]);
  });

  it('extends an ordinary grace when NFD stops reporting during it', () => {
    expect(
      play(nfd, [
        [0, event('unplugged')],
        [5_000, event('nfdGone')],
        [10_000, timer],
      ]).effects,
    ).toEqual([
      [0, { type: 'wake', at: 10_000 }],
      [5_000, { type: 'wake', at: 300_000 }],
      [10_000, { type: 'wake', at: 300_000 }],
    ]);
  });

  it('applies only to rules that name an NFD label', () => {
    const manual: Policy = { ...nfd, rule: { source: 'pod', nodeSelector: { zigbee: 'true' } } };
    expect(play(manual, [[0, { type: 'node', node: nodeWith({}) }]]).effects).toEqual([
      [0, { type: 'wake', at: 10_000 }],
    ]);
  });
});

describe('failures of the action', () => {
  it('retries after a backoff, with a read first', () => {
    const { effects } = play(policy(), [
      [0, event('unplugged')],
      [5, answer('unplugged', 0)],
      [100, { type: 'acted', result: 'retry', detail: 'HTTP 500' }],
      [1_100, timer],
      [1_150, answer('unplugged', 1_100)],
    ]);
    expect(effects.filter(([, e]) => e.type !== 'record')).toEqual([
      [0, { type: 'read-node' }],
      [5, DELETE_1],
      [100, { type: 'wake', at: 1_100 }],
      [1_100, { type: 'read-node' }],
      [1_150, { type: 'act', action: 'delete', attempt: 2 }],
    ]);
  });

  it('goes on retrying after reads fail and the delete stalls, until it gets through', () => {
    const steps: Array<[number, Observation]> = [
      [0, event('unplugged')],
      [5, answer('unplugged', 0)],
      [10_005, { type: 'acted', result: 'retry', detail: 'unreachable: no data within the timeout' }],
    ];
    let t = 10_005;
    for (let i = 0; i < 6; i++) {
      t += 40_000;
      steps.push([t, timer], [t + 5, readFailed]);
    }
    steps.push([t + 100_000, timer], [t + 100_010, answer('unplugged', t + 100_000)]);
    expect(acts(play(policy(), steps).effects).map(([, e]) => e)).toEqual([
      DELETE_1,
      { type: 'act', action: 'delete', attempt: 2 },
    ]);
  });

  it("honours the server's Retry-After", () => {
    const { effects } = play(policy(), [
      [0, relist('unplugged', 0)],
      [2, answer('unplugged', 0)],
      [100, { type: 'acted', result: 'retry', detail: 'HTTP 429', retryAfterMs: 20_000 }],
    ]);
    expect(effects.at(-1)).toEqual([100, { type: 'wake', at: 20_100 }]);
  });

  it('says once, with a Warning Event, that its delete is forbidden, and keeps retrying with backoff', () => {
    const forbidden: Observation = { type: 'acted', result: 'forbidden', detail: 'HTTP 403 Forbidden' };
    const { effects } = play(policy(), [
      [0, event('unplugged')],
      [2, answer('unplugged', 0)],
      [100, forbidden],
      [1_100, timer],
      [1_150, answer('unplugged', 1_100)],
      [1_200, forbidden],
    ]);
    const records = effects
      .filter(([, e]) => e.type === 'record')
      .map(([, e]) => (e as { reason: string }).reason);
    expect(records).toEqual(['NodeConstraintLost', 'SelfDestructForbidden']);
    expect(effects.at(-1)).toEqual([1_200, { type: 'wake', at: 3_200 }]);
  });

  it("names the command that grants the pod's account the sidecar roles when its delete is forbidden", () => {
    const advised: Policy = {
      ...policy(),
      grantAdvice: grantAdvice({ namespace: 'team', name: 'deployer' }),
    };
    const { effects } = play(advised, [
      [0, event('unplugged')],
      [2, answer('unplugged', 0)],
      [100, { type: 'acted', result: 'forbidden', detail: 'HTTP 403 Forbidden' }],
    ]);
    expect(effects).toContainEqual([
      100,
      {
        type: 'record',
        reason: 'SelfDestructForbidden',
        message: expect.stringContaining(
          'kubectl label serviceaccount deployer -n team sidecar-destruct.io/sidecar-roles=granted',
        ),
      },
    ]);
  });

  it('records EvictionBlocked once while a PodDisruptionBudget blocks the eviction', () => {
    const blocked: Observation = { type: 'acted', result: 'blocked', detail: 'HTTP 429' };
    const { effects } = play(policy({ action: 'evict' }), [
      [0, event('unplugged')],
      [2, answer('unplugged', 0)],
      [100, blocked],
      [1_100, timer],
      [1_150, answer('unplugged', 1_100)],
      [1_200, blocked],
    ]);
    const records = effects
      .filter(([, e]) => e.type === 'record')
      .map(([, e]) => (e as { reason: string }).reason);
    expect(records).toEqual(['NodeConstraintLost', 'EvictionBlocked']);
    expect(acts(effects).map(([, e]) => e)).toEqual([
      { type: 'act', action: 'evict', attempt: 1 },
      { type: 'act', action: 'evict', attempt: 2 },
    ]);
  });

  it('re-arms a retry timer that fires a millisecond early (found by the PDB e2e test)', () => {
    const { effects } = play(policy(), [
      [0, event('unplugged')],
      [2, answer('unplugged', 0)],
      [100, { type: 'acted', result: 'retry' }],
      [1_099, timer],
      [1_100, timer],
    ]);
    expect(effects.slice(-3)).toEqual([
      [100, { type: 'wake', at: 1_100 }],
      [1_099, { type: 'wake', at: 1_100 }],
      [1_100, { type: 'read-node' }],
    ]);
  });

  it('gives up the retry when the node matches again meanwhile', () => {
    const { state, effects } = play(policy(), [
      [0, event('unplugged')],
      [2, answer('unplugged', 0)],
      [100, { type: 'acted', result: 'retry' }],
      [500, event('plugged')],
      [1_100, timer],
    ]);
    expect(acts(effects)).toHaveLength(1);
    expect(state.phase).toBe('matching');
  });

  it('stays done after the pod is deleted, whatever comes next', () => {
    const { effects, state } = play(policy(), [
      [0, event('unplugged')],
      [2, answer('unplugged', 0)],
      [100, { type: 'acted', result: 'deleted' }],
      [200, relist('plugged', 200)],
      [300, relist('unplugged', 300)],
      [400, timer],
    ]);
    expect(acts(effects)).toHaveLength(1);
    expect(state).toMatchObject({ phase: 'done', outcome: 'deleted' });
  });

  it('ignores observations while the action is in flight', () => {
    const { effects } = play(policy(), [
      [0, event('unplugged')],
      [2, answer('unplugged', 0)],
      [10, relist('unplugged', 10)],
      [20, event('plugged')],
      [30, event('unplugged')],
    ]);
    expect(acts(effects)).toHaveLength(1);
  });
});

describe('dry run', () => {
  it('reports once per lost constraint and never acts', () => {
    const { effects, state } = play(policy({ dryRun: true }), [
      [0, event('unplugged')],
      [2, answer('unplugged', 0)],
      [10, event('unplugged')],
      [20, event('plugged')],
      [30, event('unplugged')],
      [32, answer('unplugged', 30)],
    ]);
    expect(effects.filter(([, e]) => e.type !== 'read-node')).toEqual([
      [2, { type: 'record', reason: 'NodeConstraintLost', message: expect.stringContaining('dry-run') }],
      [32, { type: 'record', reason: 'NodeConstraintLost', message: expect.stringContaining('dry-run') }],
    ]);
    expect(acts(effects)).toEqual([]);
    expect(state.phase).toBe('reported');
  });
});
