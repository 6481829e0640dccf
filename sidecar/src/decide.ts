/**
 * The sidecar's decision, as a pure state machine: `next(state, observation, now)`. Time is passed in, so
 * tests need no timers, sockets or Kubernetes.
 *
 * Only a fresh observation of the Node that fails the rule leads to acting. When the grace period runs out
 * without one (the timer fires), the machine asks for a fresh read (`confirm`) instead of acting on what it saw
 * earlier. Errors of the API never reach this machine as mismatches: the watcher reports them as nothing at
 * all, so an unreachable API server can only delay an action, never cause one.
 */
import type { V1Node } from '@kubernetes/client-node';
import { match } from './core/match.js';
import type { Rule } from './core/rule.js';
import type { Settings } from './core/settings.js';

export type State =
  /** The node matches, or nothing has been observed yet. */
  | { readonly phase: 'matching' }
  /** A mismatch was observed at `since`; act at `deadline` if a fresh observation still fails then. */
  | { readonly phase: 'pending'; readonly since: number; readonly deadline: number; readonly reason: string }
  /** The action is in flight. */
  | { readonly phase: 'acting'; readonly since: number; readonly reason: string; readonly attempt: number }
  /** An action failed; retry after a fresh observation at `retryAt`. */
  | {
      readonly phase: 'retrying';
      readonly since: number;
      readonly reason: string;
      readonly attempt: number;
      readonly retryAt: number;
    }
  /** Dry run: reported once; report again only after the node has matched in between. */
  | { readonly phase: 'reported'; readonly reason: string }
  /** The pod was deleted or evicted (or is gone): nothing left to do but wait for SIGTERM. */
  | { readonly phase: 'done'; readonly outcome: Outcome };

export type Outcome = 'deleted' | 'evicted' | 'gone' | 'replaced';

export type Observation =
  /** A Node read from the API just now (get, list or a watch event). */
  | { readonly type: 'node'; readonly node: V1Node }
  /** The API said the Node does not exist (404, or a watch DELETED event). */
  | { readonly type: 'node-deleted'; readonly nodeName: string }
  /** A timer the machine asked for fired. */
  | { readonly type: 'timer' }
  /** The action's result. `retry`: the API refused for now (PDB 429, 5xx, unreachable, 401/403). */
  | { readonly type: 'acted'; readonly result: Outcome | 'retry'; readonly detail?: string };

export type Effect =
  | { readonly type: 'none' }
  /** Call back with a `timer` observation at `at`. */
  | { readonly type: 'wake'; readonly at: number }
  /** Read the node now and feed the result back. */
  | { readonly type: 'confirm' }
  /** Record an Event and delete/evict the pod (or only report, in dry run). */
  | { readonly type: 'act'; readonly reason: string; readonly dryRun: boolean; readonly attempt: number };

/** A line for the structured log: what was decided and why. */
export interface Decision {
  readonly event: 'mismatch' | 'restored' | 'grace-expired' | 'act' | 'report' | 'retry' | 'done';
  readonly reason: string;
}

export interface Step {
  readonly state: State;
  readonly effect: Effect;
  readonly decision?: Decision;
}

export interface Policy {
  readonly rule: Rule;
  readonly settings: Settings;
  /** Delay before retry number `attempt` (1-based) of a failed action. */
  readonly retryDelay: (attempt: number) => number;
}

export const INITIAL: State = { phase: 'matching' };
const NONE: Effect = { type: 'none' };

/** The verdict of an observation: undefined when it matches, the reason when it does not. */
function mismatchOf(observation: Observation, rule: Rule): string | undefined {
  if (observation.type === 'node-deleted') return `node ${observation.nodeName} was deleted`;
  if (observation.type !== 'node') return undefined;
  const verdict = match(rule, observation.node);
  return verdict.matches ? undefined : verdict.reason;
}

function act(policy: Policy, reason: string, now: number, attempt: number): Step {
  const { dryRun } = policy.settings;
  return {
    state: dryRun ? { phase: 'reported', reason } : { phase: 'acting', since: now, reason, attempt },
    effect: { type: 'act', reason, dryRun, attempt },
    decision: { event: dryRun ? 'report' : 'act', reason },
  };
}

export function next(state: State, observation: Observation, now: number, policy: Policy): Step {
  if (state.phase === 'done') return { state, effect: NONE };

  if (observation.type === 'acted') {
    if (state.phase !== 'acting') return { state, effect: NONE };
    if (observation.result !== 'retry') {
      return {
        state: { phase: 'done', outcome: observation.result },
        effect: NONE,
        decision: { event: 'done', reason: observation.result },
      };
    }
    const attempt = state.attempt + 1;
    const retryAt = now + policy.retryDelay(attempt);
    return {
      state: { phase: 'retrying', since: state.since, reason: state.reason, attempt, retryAt },
      effect: { type: 'wake', at: retryAt },
      decision: { event: 'retry', reason: observation.detail ?? 'the API refused the action for now' },
    };
  }

  if (observation.type === 'timer') {
    // A timer may fire a little early (timers and the wall clock are different clocks), or early on purpose
    // when the wait is longer than a timer can hold: ask to be woken again at the right time.
    if (state.phase === 'pending') {
      if (now < state.deadline) return { state, effect: { type: 'wake', at: state.deadline } };
      return {
        state,
        effect: { type: 'confirm' },
        decision: { event: 'grace-expired', reason: state.reason },
      };
    }
    if (state.phase === 'retrying') {
      if (now < state.retryAt) return { state, effect: { type: 'wake', at: state.retryAt } };
      return { state, effect: { type: 'confirm' } };
    }
    return { state, effect: NONE };
  }

  // A fresh observation of the node.
  const reason = mismatchOf(observation, policy.rule);
  if (reason === undefined) {
    if (state.phase === 'matching' || state.phase === 'acting') return { state, effect: NONE };
    return {
      state: INITIAL,
      effect: NONE,
      decision: { event: 'restored', reason: 'the node matches the rule again' },
    };
  }
  switch (state.phase) {
    case 'matching': {
      if (policy.settings.gracePeriodMs <= 0) return act(policy, reason, now, 1);
      const deadline = now + policy.settings.gracePeriodMs;
      return {
        state: { phase: 'pending', since: now, deadline, reason },
        effect: { type: 'wake', at: deadline },
        decision: { event: 'mismatch', reason },
      };
    }
    case 'pending':
      if (now >= state.deadline) return act(policy, reason, now, 1);
      return { state: { ...state, reason }, effect: NONE };
    case 'retrying':
      if (now >= state.retryAt) return act(policy, reason, now, state.attempt);
      return { state: { ...state, reason }, effect: NONE };
    case 'acting':
    case 'reported':
      return { state, effect: NONE };
  }
}
