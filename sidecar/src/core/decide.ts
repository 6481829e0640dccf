/**
 * The sidecar's decision, as a pure state machine: `next(state, observation, now, policy)` returns the next
 * state, the effects to carry out (as data) and a note for the log. Time is a monotonic clock's reading passed
 * in, so a wall-clock step (NTP on a Raspberry Pi without a clock chip) cannot end a grace period, and tests need
 * no timers, sockets or Kubernetes.
 *
 * Trust rules:
 * - Only a read of the Node (a GET) sent after the grace period ran out, or after the retry time, can lead to an
 *   action, and only while a mismatch is pending. A watch event may be replayed history after a reconnect: it
 *   only starts the grace period or asks for a read (`read-node`). A match resets everything, so a slow answer
 *   that an event of the label's return overtook arrives with nothing pending and only starts a new wait.
 * - Errors of the API are never mismatches: a failed read is `read-failed`, which only delays, with backoff.
 * - When node-feature-discovery is not reporting for the node (every NFD label gone at once, see nfd.ts), the
 *   longer NFD outage grace applies instead of the grace period: bounded, then act.
 */
import type { V1Node } from '@kubernetes/client-node';
import { match } from './match.js';
import { EVENT_REASON, EVENT_REASON_BLOCKED, EVENT_REASON_FORBIDDEN } from './names.js';
import { nfdOutage } from './nfd.js';
import type { Rule } from './rule.js';
import type { Action, Settings } from './settings.js';

/** Why the machine is waiting: an ordinary mismatch, or NFD not reporting for the node. */
export type Hold = 'mismatch' | 'nfd-outage';

/** How a failed action failed: each kind is announced with an Event once, when it first happens. */
export type Refusal = 'retry' | 'blocked' | 'forbidden';

/** The machine's own reads of the node: one at a time, and not again before `notBefore` after a failure. */
export interface Probe {
  readonly reading: boolean;
  readonly failures: number;
  readonly notBefore: number;
}

export type State =
  /** The node matches, or nothing has been observed yet. */
  | { readonly phase: 'matching' }
  /** A mismatch was observed at `since`; a read sent at or after `deadline` decides. */
  | {
      readonly phase: 'pending';
      readonly since: number;
      readonly deadline: number;
      readonly hold: Hold;
      readonly reason: string;
      readonly probe: Probe;
    }
  /** The delete or eviction is in flight. */
  | {
      readonly phase: 'acting';
      readonly reason: string;
      readonly attempt: number;
      readonly refusal?: Refusal;
    }
  /** An action was refused; a read sent at or after `retryAt` decides whether to try again. */
  | {
      readonly phase: 'retrying';
      readonly reason: string;
      readonly attempt: number;
      readonly retryAt: number;
      readonly refusal: Refusal;
      readonly probe: Probe;
    }
  /** Dry run: reported once; report again only after the node has matched in between. */
  | { readonly phase: 'reported'; readonly reason: string }
  /** The pod was deleted or evicted (or is gone): nothing left to do but wait for SIGTERM. */
  | { readonly phase: 'done'; readonly outcome: Outcome };

export type Outcome = 'deleted' | 'evicted' | 'gone' | 'replaced';

/** How an observation of the node was made; absent for a watch event. */
export interface Read {
  /** When the GET was sent (monotonic). */
  readonly sentAt: number;
  /** The machine asked for it (`read-node`), rather than the watch loop reading the node before a watch. */
  readonly requested: boolean;
}

export type Observation =
  /** The Node as the API returned it, by a GET (`read`) or in a watch event (possibly replayed history). */
  | { readonly type: 'node'; readonly node: V1Node; readonly read?: Read }
  /** The API said the Node does not exist (a GET's NotFound, or a watch DELETED event). */
  | { readonly type: 'node-deleted'; readonly nodeName: string; readonly read?: Read }
  /** The read the machine asked for failed (unreachable, 5xx, 401/403, throttled). */
  | { readonly type: 'read-failed'; readonly detail: string; readonly retryAfterMs?: number }
  /** A timer the machine asked for fired. */
  | { readonly type: 'timer' }
  /** The action's result. */
  | {
      readonly type: 'acted';
      readonly result: Outcome | Refusal;
      readonly detail?: string;
      readonly retryAfterMs?: number;
    };

export type Effect =
  /** Call back with a `timer` observation at `at` (monotonic); replaces the previous timer. */
  | { readonly type: 'wake'; readonly at: number }
  /** Read the node now (GET) and feed the answer back with `read.requested`, or `read-failed`. */
  | { readonly type: 'read-node' }
  /** Record a Warning Event on the pod; its outcome is only logged, nothing waits for it. */
  | { readonly type: 'record'; readonly reason: string; readonly message: string }
  /** Delete or evict the pod (uid-preconditioned) and feed the answer back as `acted`. */
  | { readonly type: 'act'; readonly action: Action; readonly attempt: number };

/** What the log says about a step. */
export interface Note {
  readonly event:
    | 'mismatch'
    | 'nfd-outage'
    | 'restored'
    | 'grace-expired'
    | 'read-failed'
    | 'act'
    | 'report'
    | 'retry'
    | 'forbidden'
    | 'done';
  readonly reason: string;
}

export interface Step {
  readonly state: State;
  readonly effects: readonly Effect[];
  readonly note?: Note;
}

export interface Policy {
  readonly rule: Rule;
  readonly settings: Settings;
  /** Delay before retry number `attempt` (1-based), at least `retryAfterMs` when the server asked for it. */
  readonly retryDelay: (attempt: number, retryAfterMs?: number) => number;
}

export const INITIAL: State = { phase: 'matching' };
const IDLE: Probe = { reading: false, failures: 0, notBefore: 0 };

type Mismatch = { readonly reason: string; readonly hold: Hold };

function mismatchOf(
  observation: Observation & { type: 'node' | 'node-deleted' },
  rule: Rule,
): Mismatch | undefined {
  if (observation.type === 'node-deleted') {
    return { reason: `node ${observation.nodeName} was deleted`, hold: 'mismatch' };
  }
  const verdict = match(rule, observation.node);
  if (verdict.matches) return undefined;
  if (!nfdOutage(rule, observation.node)) return { reason: verdict.reason, hold: 'mismatch' };
  return {
    reason: `${verdict.reason} (the node carries no node-feature-discovery label at all: NFD is not reporting for it)`,
    hold: 'nfd-outage',
  };
}

const graceOf = (hold: Hold, settings: Settings): number =>
  hold === 'nfd-outage' ? settings.nfdOutageGracePeriodMs : settings.gracePeriodMs;

const stay = (state: State): Step => ({ state, effects: [] });

/** The probe after an observation: the answer to its own read ends the read (and its failures). */
const settle = (probe: Probe, read: Read | undefined): Probe => (read?.requested ? IDLE : probe);

/** A read sent at or after `due`: the only observation that may lead to an action. */
const decisive = (read: Read | undefined, due: number): boolean => read !== undefined && read.sentAt >= due;

/** Asks for a read when one is due and allowed; otherwise waits (a timer is armed for `due` or `notBefore`). */
type Waiting = Extract<State, { phase: 'pending' | 'retrying' }>;

function readIfDue(state: Waiting, due: number, now: number, note?: Note): Step {
  if (now < due || state.probe.reading) return { state, effects: [], ...(note ? { note } : {}) };
  if (now < state.probe.notBefore) {
    return { state, effects: [{ type: 'wake', at: state.probe.notBefore }], ...(note ? { note } : {}) };
  }
  return {
    state: { ...state, probe: { ...state.probe, reading: true } } as Waiting,
    effects: [{ type: 'read-node' }],
    ...(note ? { note } : {}),
  };
}

/** The delete or eviction (or, in dry run, only its report), with the Event that says why. */
function actOrReport(policy: Policy, reason: string, attempt: number, refusal?: Refusal): Step {
  const { action, dryRun } = policy.settings;
  const verb = action === 'delete' ? 'deleting' : 'evicting';
  if (dryRun) {
    return {
      state: { phase: 'reported', reason },
      effects: [{ type: 'record', reason: EVENT_REASON, message: `dry-run, not ${verb} the pod: ${reason}` }],
      note: { event: 'report', reason },
    };
  }
  const record: Effect[] =
    attempt === 1 ? [{ type: 'record', reason: EVENT_REASON, message: `${verb} the pod: ${reason}` }] : [];
  return {
    state: { phase: 'acting', reason, attempt, ...(refusal ? { refusal } : {}) },
    effects: [...record, { type: 'act', action, attempt }],
    note: { event: 'act', reason },
  };
}

export function next(state: State, observation: Observation, now: number, policy: Policy): Step {
  if (state.phase === 'done') return stay(state);
  switch (observation.type) {
    case 'acted':
      return onActed(state, observation, now, policy);
    case 'timer':
      return onTimer(state, now);
    case 'read-failed':
      return onReadFailed(state, observation, now, policy);
    case 'node':
    case 'node-deleted':
      return onNode(state, observation, now, policy);
  }
}

function onNode(
  state: State,
  observation: Observation & { type: 'node' | 'node-deleted' },
  now: number,
  policy: Policy,
): Step {
  const { read } = observation;
  const mismatch = mismatchOf(observation, policy.rule);
  if (mismatch === undefined) {
    if (state.phase === 'matching' || state.phase === 'acting') return stay(state);
    return {
      state: INITIAL,
      effects: [],
      note: { event: 'restored', reason: 'the node matches the rule again' },
    };
  }
  switch (state.phase) {
    case 'acting':
    case 'reported':
      return stay(state);
    case 'matching': {
      const deadline = now + graceOf(mismatch.hold, policy.settings);
      const note: Note = { event: mismatch.hold === 'nfd-outage' ? 'nfd-outage' : 'mismatch', ...mismatch };
      const pending = { phase: 'pending', since: now, deadline, ...mismatch, probe: IDLE } as const;
      if (now < deadline) return { state: pending, effects: [{ type: 'wake', at: deadline }], note };
      // No grace, or a wait already over: a read made from now on decides, never this observation itself.
      return readIfDue(pending, deadline, now, note);
    }
    case 'retrying': {
      const retrying = { ...state, reason: mismatch.reason, probe: settle(state.probe, read) };
      if (decisive(read, state.retryAt))
        return actOrReport(policy, mismatch.reason, state.attempt, state.refusal);
      return readIfDue(retrying, state.retryAt, now);
    }
    case 'pending': {
      // Leaving an NFD outage with the label still missing is a mismatch of its own: its grace starts now.
      const since = state.hold === 'nfd-outage' && mismatch.hold === 'mismatch' ? now : state.since;
      const deadline = since + graceOf(mismatch.hold, policy.settings);
      const pending = { ...state, since, deadline, ...mismatch, probe: settle(state.probe, read) };
      const note: Note | undefined =
        mismatch.hold !== state.hold
          ? { event: mismatch.hold === 'nfd-outage' ? 'nfd-outage' : 'mismatch', reason: mismatch.reason }
          : undefined;
      if (decisive(read, deadline)) return actOrReport(policy, mismatch.reason, 1);
      if (now < deadline) {
        const wake: Effect[] = deadline !== state.deadline ? [{ type: 'wake', at: deadline }] : [];
        return { state: pending, effects: wake, ...(note ? { note } : {}) };
      }
      return readIfDue(pending, deadline, now, note ?? { event: 'grace-expired', reason: mismatch.reason });
    }
    default:
      return stay(state);
  }
}

function onTimer(state: State, now: number): Step {
  if (state.phase !== 'pending' && state.phase !== 'retrying') return stay(state);
  // Timers may fire a little early, or early on purpose when the wait is longer than a timer can hold.
  const due = state.phase === 'pending' ? state.deadline : state.retryAt;
  if (now < due) return { state, effects: [{ type: 'wake', at: due }] };
  const note =
    state.phase === 'pending' ? ({ event: 'grace-expired', reason: state.reason } as const) : undefined;
  return readIfDue(state, due, now, state.probe.reading ? undefined : note);
}

function onReadFailed(
  state: State,
  observation: Observation & { type: 'read-failed' },
  now: number,
  policy: Policy,
): Step {
  if (state.phase !== 'pending' && state.phase !== 'retrying') return stay(state);
  const failures = state.probe.failures + 1;
  const notBefore = now + policy.retryDelay(failures, observation.retryAfterMs);
  return {
    state: { ...state, probe: { reading: false, failures, notBefore } },
    effects: [{ type: 'wake', at: notBefore }],
    note: { event: 'read-failed', reason: observation.detail },
  };
}

const REFUSAL_EVENTS: Record<Refusal, { readonly reason: string; readonly message: string } | undefined> = {
  retry: undefined,
  blocked: { reason: EVENT_REASON_BLOCKED, message: 'cannot evict the pod yet; retrying with backoff' },
  forbidden: {
    reason: EVENT_REASON_FORBIDDEN,
    message:
      "the API server refused this pod's own deletion (its ServiceAccount lacks the sidecar role); retrying with backoff",
  },
};

function onActed(
  state: State,
  observation: Observation & { type: 'acted' },
  now: number,
  policy: Policy,
): Step {
  if (state.phase !== 'acting') return stay(state);
  const { result } = observation;
  if (result !== 'retry' && result !== 'blocked' && result !== 'forbidden') {
    return {
      state: { phase: 'done', outcome: result },
      effects: [],
      note: { event: 'done', reason: result },
    };
  }
  const retryAt = now + policy.retryDelay(state.attempt, observation.retryAfterMs);
  const detail = observation.detail ?? 'the API refused the action for now';
  const announce = result !== state.refusal ? REFUSAL_EVENTS[result] : undefined;
  return {
    state: {
      phase: 'retrying',
      reason: state.reason,
      attempt: state.attempt + 1,
      retryAt,
      refusal: result,
      probe: IDLE,
    },
    effects: [
      ...(announce
        ? [{ type: 'record' as const, reason: announce.reason, message: `${announce.message} (${detail})` }]
        : []),
      { type: 'wake', at: retryAt },
    ],
    note: { event: result === 'forbidden' ? 'forbidden' : 'retry', reason: detail },
  };
}
