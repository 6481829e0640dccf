/**
 * The sidecar's I/O shell: the watcher feeds observations to the pure decision (pure/decide.ts), and a small
 * executor carries out the effects it returns — timers, fresh reads, Events, the deletion or eviction of the own
 * pod — feeding each outcome back as the next observation. Nothing here decides anything.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import { describeSettings, type Identity, type Log, type SidecarContract } from '@sidecar-destruct/core';
import { type Api, type ApiReply, describeFailure, retryAfterOf } from './api.js';
import {
  type ActOutcome,
  type Effect,
  grantAdvice,
  INITIAL,
  type Note,
  next,
  type Observation,
  type Policy,
  type Refusal,
  type State,
} from './pure/decide.js';
import { readNode, type WatchOptions, watchNode } from './watch.js';

const COMPONENT = 'sidecar-destruct';
/** Kubernetes refuses Event messages over 1 kB. */
const MESSAGE_MAX = 1_000;

export interface Clock {
  /** Monotonic milliseconds: every grace period, backoff and timer is measured with this. */
  now(): number;
  /** Wall-clock milliseconds, for Event timestamps only. */
  wallNow(): number;
  /** Runs `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export interface SidecarDeps {
  readonly api: Pick<Api, 'getNode' | 'watchNode' | 'deletePod' | 'evictPod' | 'createEvent'>;
  readonly clock: Clock;
  readonly log: Log;
  readonly watch: Omit<WatchOptions, 'now'>;
  /** Delay before retry `n` of a failed action or a failed fresh read. */
  readonly retryDelay: Policy['retryDelay'];
  /** Called once, when the first watch is established. */
  readonly onWatching?: () => void;
  /** The pod's ServiceAccount, when known (from the token): named in the advice on a 403. */
  readonly serviceAccount?: { readonly namespace: string; readonly name: string };
}

/** One log line per note: its level and sentence. */
const NOTE_LOG: Record<Note['event'], { level: 'info' | 'warn' | 'error'; message: string }> = {
  mismatch: { level: 'info', message: 'the node no longer matches; grace period started' },
  'nfd-outage': {
    level: 'warn',
    message:
      'node-feature-discovery is not reporting for the node; holding off for the NFD outage grace period',
  },
  restored: { level: 'info', message: 'the node matches again; grace period cancelled' },
  'grace-expired': { level: 'info', message: 'grace period over; reading the node before acting' },
  'read-failed': {
    level: 'warn',
    message: 'cannot read the node to confirm the mismatch; not acting, retrying',
  },
  act: { level: 'warn', message: 'the node no longer matches; acting on the pod' },
  report: { level: 'warn', message: 'dry-run: the node no longer matches; reporting only' },
  retry: { level: 'warn', message: 'the action was refused for now; retrying after a backoff' },
  forbidden: {
    level: 'error',
    message: "the API server forbids this pod's deletion; retrying after a backoff",
  },
  done: { level: 'info', message: 'done; waiting for termination' },
};

/** Maps the answer to a delete or an eviction onto the decision's vocabulary. */
export function outcomeOf(
  reply: ApiReply<unknown>,
  action: 'delete' | 'evict',
): { result: ActOutcome | Refusal; detail?: string; retryAfterMs?: number } {
  if (reply.kind === 'ok') return { result: action === 'delete' ? 'deleted' : 'evicted' };
  const detail = describeFailure(reply);
  if (reply.kind !== 'refused') return { result: 'retry', detail };
  const retryAfter = retryAfterOf(reply);
  switch (reply.status) {
    // The API's own NotFound: the pod is gone. A bare 404 from something in between is retried.
    case 404:
      return reply.reason === 'NotFound' ? { result: 'gone' } : { result: 'retry', detail, ...retryAfter };
    // The uid precondition failed: the name now belongs to a successor, which is not ours to touch.
    case 409:
      return { result: 'replaced' };
    case 403:
      return { result: 'forbidden', detail, ...retryAfter };
    // An eviction answers 429 while a PodDisruptionBudget forbids it.
    case 429:
      return { result: action === 'evict' ? 'blocked' : 'retry', detail, ...retryAfter };
    default:
      return { result: 'retry', detail, ...retryAfter };
  }
}

function eventFor(identity: Identity, reason: string, message: string, wallNow: number): CoreV1Event {
  const now = new Date(wallNow);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${identity.podName}.`, namespace: identity.podNamespace },
    involvedObject: {
      apiVersion: 'v1',
      kind: 'Pod',
      name: identity.podName,
      namespace: identity.podNamespace,
      uid: identity.podUid,
    },
    reason,
    message: message.length > MESSAGE_MAX ? `${message.slice(0, MESSAGE_MAX - 1)}…` : message,
    type: 'Warning',
    source: { component: COMPONENT, host: identity.nodeName },
    reportingComponent: `${COMPONENT}.io/sidecar`,
    reportingInstance: identity.podName,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/**
 * Performs the decision's effects and reports their outcomes back through `feed`. Effects run concurrently:
 * the delete never waits for its Event.
 */
function executor(
  contract: SidecarContract,
  deps: SidecarDeps,
  feed: (observation: Observation) => void,
): { perform: (effect: Effect) => void; stop: () => void } {
  const { identity } = contract;
  const { api, clock, log } = deps;
  let cancelTimer: (() => void) | undefined;
  const perform = (effect: Effect): void => {
    switch (effect.type) {
      case 'wake':
        cancelTimer?.();
        cancelTimer = clock.setTimer(() => feed({ type: 'timer' }), Math.max(0, effect.at - clock.now()));
        return;
      case 'read-node': {
        const sentAt = clock.now();
        void readNode(api, identity.nodeName).then((read) =>
          feed(
            'failure' in read
              ? { type: 'read-failed', detail: describeFailure(read.failure), ...retryAfterOf(read.failure) }
              : { ...read.observation, read: { sentAt, requested: true } },
          ),
        );
        return;
      }
      case 'record':
        void api
          .createEvent(
            identity.podNamespace,
            eventFor(identity, effect.reason, effect.message, clock.wallNow()),
          )
          .then((reply) => {
            if (reply.kind === 'ok') log.info({ reason: effect.reason }, 'recorded the Event');
            else
              log.warn({ reason: effect.reason, error: describeFailure(reply) }, 'cannot record the Event');
          });
        return;
      case 'act': {
        const { podNamespace: ns, podName: name, podUid: uid } = identity;
        const call = effect.action === 'delete' ? api.deletePod(ns, name, uid) : api.evictPod(ns, name, uid);
        void call.then((reply) => feed({ type: 'acted', ...outcomeOf(reply, effect.action) }));
        return;
      }
    }
  };
  return { perform, stop: () => cancelTimer?.() };
}

/** Runs until `signal` aborts. */
export async function runSidecar(
  contract: SidecarContract,
  deps: SidecarDeps,
  signal: AbortSignal,
): Promise<void> {
  const { rule, settings } = contract;
  const { clock, log } = deps;
  const policy: Policy = {
    rule,
    settings,
    retryDelay: deps.retryDelay,
    grantAdvice: grantAdvice(deps.serviceAccount),
  };
  let state: State = INITIAL;

  const feed = (observation: Observation): void => {
    if (signal.aborted) return;
    const step = next(state, observation, clock.now(), policy);
    state = step.state;
    if (step.note) {
      const { level, message } = NOTE_LOG[step.note.event];
      log[level]({ decision: step.note.event, reason: step.note.reason, action: settings.action }, message);
    }
    for (const effect of step.effects) effects.perform(effect);
  };
  const effects = executor(contract, deps, feed);

  log.info({ settings: describeSettings(settings), rule }, 'starting');
  signal.addEventListener('abort', effects.stop, { once: true });
  let announced = false;
  await watchNode(
    deps.api,
    contract.identity.nodeName,
    { ...deps.watch, now: clock.now, forbiddenAdvice: policy.grantAdvice },
    log,
    feed,
    () => {
      if (announced) return;
      announced = true;
      deps.onWatching?.();
    },
    signal,
  );
}
