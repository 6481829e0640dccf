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
 * - A read counts only while the watch is up and has been for a moment (`SETTLE_MS`): a watch resumed after an
 *   outage replays what happened meanwhile, so a label that came back is seen before any read can act. While
 *   the watch is down the machine reads nothing; after a relist (history lost to a 410) the grace starts afresh.
 *   Two short flaps that a blind sidecar would sample as one long mismatch therefore delete nothing.
 * - Errors of the API are never mismatches: a failed read is `read-failed`, which only delays, with backoff.
 * - When node-feature-discovery is not reporting for the node (every NFD label gone at once, see nfd.ts), the
 *   longer NFD outage grace applies instead of the grace period: bounded, then act.
 */
import type { V1Node } from '@kubernetes/client-node';
import {
  type Action,
  describeVerdict,
  EVENT_REASON,
  EVENT_REASON_BLOCKED,
  EVENT_REASON_FORBIDDEN,
  grantCommand,
  match,
  nfdOutage,
  type Rule,
  type Settings,
} from '@sidecar-destruct/core';

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

/** Whether the watch is up, and since when (monotonic). */
export interface Link {
  readonly up: boolean;
  readonly since: number;
}

/**
 * After the watch comes up, its replay of what happened meanwhile follows the headers on the same stream: within
 * milliseconds, and well within this. A read is a round trip of its own on top.
 */
export const SETTLE_MS = 250;

export type Phase =
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
  | { readonly phase: 'done'; readonly outcome: ActOutcome };

/** The machine's state: the phase of the decision, and what it knows of the watch. */
export type State = Phase & { readonly link: Link };

export type ActOutcome = 'deleted' | 'evicted' | 'gone' | 'replaced';

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
  /** The watch came up (the server accepted it) or went down. */
  | { readonly type: 'watch'; readonly up: boolean }
  /** The action's result. */
  | {
      readonly type: 'acted';
      readonly result: ActOutcome | Refusal;
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

/** A step of the phase alone; `next` adds the link. */
interface PhaseStep {
  readonly state: Phase;
  readonly effects: readonly Effect[];
  readonly note?: Note;
}

export interface Policy {
  readonly rule: Rule;
  readonly settings: Settings;
  /** Delay before retry number `attempt` (1-based), at least `retryAfterMs` when the server asked for it. */
  readonly retryDelay: (attempt: number, retryAfterMs?: number) => number;
  /** Said with a 403 on the delete: how to grant the pod's account the sidecar roles (`grantAdvice`). */
  readonly grantAdvice?: string;
}

export const INITIAL: State = { phase: 'matching', link: { up: false, since: 0 } };
const MATCHING: Phase = { phase: 'matching' };
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
  const reason = describeVerdict(rule, observation.node.metadata?.name ?? '', verdict);
  if (!nfdOutage(rule, observation.node)) return { reason, hold: 'mismatch' };
  return {
    reason: `${reason} (the node carries no node-feature-discovery label at all: NFD is not reporting for it)`,
    hold: 'nfd-outage',
  };
}

const graceOf = (hold: Hold, settings: Settings): number =>
  hold === 'nfd-outage' ? settings.nfdOutageGracePeriodMs : settings.gracePeriodMs;

const stay = (state: Phase): PhaseStep => ({ state, effects: [] });

/** The probe after an observation: the answer to its own read ends the read (and its failures). */
const probeAfter = (probe: Probe, read: Read | undefined): Probe => (read?.requested ? IDLE : probe);

/** The watch is up and has replayed what it missed: a read sent from now on sees nothing older than it knows. */
const settled = (link: Link, at: number): boolean => link.up && link.since + SETTLE_MS <= at;

/** A read sent at or after `due` while the watch was settled, and still up: the only observation that may act. */
const decisive = (read: Read | undefined, due: number, link: Link): boolean =>
  read !== undefined && read.sentAt >= due && settled(link, read.sentAt);

/** Asks for a read when one is due and allowed; otherwise waits (a timer is armed for `due` or `notBefore`). */
type Waiting = Extract<Phase, { phase: 'pending' | 'retrying' }>;

function readIfDue(state: Waiting, due: number, now: number, link: Link, note?: Note): PhaseStep {
  const waiting = (effects: Effect[]): PhaseStep => ({ state, effects, ...(note ? { note } : {}) });
  if (now < due || state.probe.reading) return waiting([]);
  // The watch coming up calls again; a settling watch is waited for.
  if (!link.up) return waiting([]);
  if (!settled(link, now)) return waiting([{ type: 'wake', at: link.since + SETTLE_MS }]);
  if (now < state.probe.notBefore) return waiting([{ type: 'wake', at: state.probe.notBefore }]);
  return {
    state: { ...state, probe: { ...state.probe, reading: true } } as Waiting,
    effects: [{ type: 'read-node' }],
    ...(note ? { note } : {}),
  };
}

/** The delete or eviction (or, in dry run, only its report), with the Event that says why. */
function actOrReport(policy: Policy, reason: string, attempt: number, refusal?: Refusal): PhaseStep {
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
    // The Event first: once the pod is deleted, the kubelet stops this process, which ends what is in flight, so
    // an Event sent after the act can be lost (docs/architecture.md, "Decisions, and why").
    effects: [...record, { type: 'act', action, attempt }],
    note: { event: 'act', reason },
  };
}

export function next(state: State, observation: Observation, now: number, policy: Policy): Step {
  const { link: before, ...phase } = state;
  const link: Link =
    observation.type !== 'watch' || observation.up === before.up
      ? before
      : { up: observation.up, since: now };
  const step = nextPhase(phase as Phase, observation, now, policy, link);
  return { ...step, state: { ...step.state, link } };
}

function nextPhase(
  state: Phase,
  observation: Observation,
  now: number,
  policy: Policy,
  link: Link,
): PhaseStep {
  if (state.phase === 'done') return stay(state);
  switch (observation.type) {
    case 'acted':
      return onActed(state, observation, now, policy);
    case 'timer':
      return onTimer(state, now, link);
    case 'watch':
      if (state.phase !== 'pending' && state.phase !== 'retrying') return stay(state);
      return readIfDue(state, state.phase === 'pending' ? state.deadline : state.retryAt, now, link);
    case 'read-failed':
      return onReadFailed(state, observation, now, policy);
    case 'node':
    case 'node-deleted':
      return onNode(state, observation, now, policy, link);
  }
}

function onNode(
  state: Phase,
  observation: Observation & { type: 'node' | 'node-deleted' },
  now: number,
  policy: Policy,
  link: Link,
): PhaseStep {
  const { read } = observation;
  const mismatch = mismatchOf(observation, policy.rule);
  if (mismatch === undefined) {
    if (state.phase === 'matching' || state.phase === 'acting') return stay(state);
    return {
      state: MATCHING,
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
      return readIfDue(pending, deadline, now, link, note);
    }
    case 'retrying': {
      const retrying = { ...state, reason: mismatch.reason, probe: probeAfter(state.probe, read) };
      if (decisive(read, state.retryAt, link))
        return actOrReport(policy, mismatch.reason, state.attempt, state.refusal);
      return readIfDue(retrying, state.retryAt, now, link);
    }
    case 'pending':
      return onPendingMismatch(state, mismatch, read, now, policy, link);
    default:
      return stay(state);
  }
}

/** A mismatch seen while the grace period runs: act on a decisive read, else keep (or restart) waiting. */
function onPendingMismatch(
  state: Extract<Phase, { phase: 'pending' }>,
  mismatch: Mismatch,
  read: Read | undefined,
  now: number,
  policy: Policy,
  link: Link,
): PhaseStep {
  // Leaving an NFD outage with the label still missing is a mismatch of its own, and a relist (the watch
  // lost history to a 410) may hide a return of the label: either way the grace starts again now.
  const relisted = read !== undefined && !read.requested;
  const since = (state.hold === 'nfd-outage' && mismatch.hold === 'mismatch') || relisted ? now : state.since;
  const deadline = since + graceOf(mismatch.hold, policy.settings);
  const pending = { ...state, since, deadline, ...mismatch, probe: probeAfter(state.probe, read) };
  const note: Note | undefined =
    mismatch.hold !== state.hold
      ? { event: mismatch.hold === 'nfd-outage' ? 'nfd-outage' : 'mismatch', reason: mismatch.reason }
      : undefined;
  if (decisive(read, deadline, link)) return actOrReport(policy, mismatch.reason, 1);
  if (now < deadline) {
    const wake: Effect[] = deadline !== state.deadline ? [{ type: 'wake', at: deadline }] : [];
    return { state: pending, effects: wake, ...(note ? { note } : {}) };
  }
  return readIfDue(pending, deadline, now, link, note ?? { event: 'grace-expired', reason: mismatch.reason });
}

function onTimer(state: Phase, now: number, link: Link): PhaseStep {
  if (state.phase !== 'pending' && state.phase !== 'retrying') return stay(state);
  // Timers may fire a little early, or early on purpose when the wait is longer than a timer can hold.
  const due = state.phase === 'pending' ? state.deadline : state.retryAt;
  if (now < due) return { state, effects: [{ type: 'wake', at: due }] };
  const note =
    state.phase === 'pending' ? ({ event: 'grace-expired', reason: state.reason } as const) : undefined;
  return readIfDue(state, due, now, link, state.probe.reading ? undefined : note);
}

function onReadFailed(
  state: Phase,
  observation: Observation & { type: 'read-failed' },
  now: number,
  policy: Policy,
): PhaseStep {
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
    message: "the API server refused this pod's own deletion; retrying with backoff",
  },
};

/** What to do about a 403: grant the pod's account the sidecar roles (the exact command, when it is known). */
export function grantAdvice(serviceAccount: { namespace: string; name: string } | undefined): string {
  if (serviceAccount === undefined) {
    return "if the pod's ServiceAccount lacks the sidecar roles, grant them as the README's security model says";
  }
  const { namespace, name } = serviceAccount;
  return `if ServiceAccount ${namespace}/${name} lacks the sidecar roles, someone allowed to bind them grants them with: ${grantCommand(serviceAccount)}`;
}

function onActed(
  state: Phase,
  observation: Observation & { type: 'acted' },
  now: number,
  policy: Policy,
): PhaseStep {
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
  const advice = result === 'forbidden' && policy.grantAdvice ? `; ${policy.grantAdvice}` : '';
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
        ? [
            {
              type: 'record' as const,
              reason: announce.reason,
              message: `${announce.message} (${detail})${advice}`,
            },
          ]
        : []),
      { type: 'wake', at: retryAt },
    ],
    note: { event: result === 'forbidden' ? 'forbidden' : 'retry', reason: `${detail}${advice}` },
  };
}
