/**
 * The sidecar's I/O loop: the watcher feeds observations to the decision (decide.ts), and the effects it asks
 * for are carried out here: timers, fresh reads, the Event, and the deletion or eviction of the own pod.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Api, Reply } from './api.js';
import type { SidecarContract } from './core/env.js';
import { EVENT_REASON, EVENT_REASON_BLOCKED } from './core/names.js';
import { describeSettings } from './core/settings.js';
import {
  type Decision,
  type Effect,
  INITIAL,
  next,
  type Observation,
  type Outcome,
  type Policy,
  type State,
} from './decide.js';
import type { Logger } from './log.js';
import { readNode, type WatchOptions, watchNode } from './watch.js';

const COMPONENT = 'sidecar-destruct';
/** Kubernetes refuses Event messages over 1 kB. */
const MESSAGE_MAX = 1_000;

export interface Clock {
  now(): number;
  /** Runs `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export interface SidecarDeps {
  readonly api: Pick<Api, 'getNode' | 'watchNode' | 'deletePod' | 'evictPod' | 'createEvent'>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly watch: WatchOptions;
  /** Delay before retry `n` of a failed action or a failed fresh read. */
  readonly retryDelay: (attempt: number) => number;
  /** Called once, when the first watch is established. */
  readonly onWatching?: () => void;
}

const describeReply = (r: Exclude<Reply<unknown>, { kind: 'ok' }>): string =>
  r.kind === 'refused' ? `HTTP ${r.status}${r.reason ? ` ${r.reason}` : ''}: ${r.message}` : r.message;

/** One log line per decision: its level and sentence. */
const DECISION_LOG: Record<Decision['event'], { level: 'info' | 'warn'; message: string }> = {
  mismatch: { level: 'info', message: 'the node no longer matches; grace period started' },
  restored: { level: 'info', message: 'the node matches again; grace period cancelled' },
  'grace-expired': { level: 'info', message: 'grace period over; reading the node once more before acting' },
  act: { level: 'warn', message: 'the node no longer matches; acting on the pod' },
  report: { level: 'warn', message: 'dry-run: the node no longer matches; reporting only' },
  retry: { level: 'warn', message: 'the action was refused for now; retrying after a backoff' },
  done: { level: 'info', message: 'done; waiting for termination' },
};

/** Maps the answer to a delete or an eviction onto the decision's vocabulary. */
export function outcomeOf(reply: Reply<unknown>, action: 'delete' | 'evict'): Outcome | 'retry' {
  if (reply.kind === 'ok') return action === 'delete' ? 'deleted' : 'evicted';
  if (reply.kind === 'refused' && reply.status === 404) return 'gone';
  // The uid precondition failed: the name now belongs to a successor, which is not ours to touch.
  if (reply.kind === 'refused' && reply.status === 409) return 'replaced';
  return 'retry';
}

/** Runs until `signal` aborts. */
export async function runSidecar(
  contract: SidecarContract,
  deps: SidecarDeps,
  signal: AbortSignal,
): Promise<void> {
  const { identity, rule, settings } = contract;
  const { api, clock, log } = deps;
  const policy: Policy = { rule, settings, retryDelay: deps.retryDelay };
  let state: State = INITIAL;
  let cancelTimer: (() => void) | undefined;
  let confirmFailures = 0;

  const event = (reason: string, message: string): CoreV1Event => {
    const now = new Date(clock.now()).toISOString();
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
      firstTimestamp: now as unknown as Date,
      lastTimestamp: now as unknown as Date,
      count: 1,
    };
  };

  const record = async (reason: string, message: string): Promise<void> => {
    const reply = await api.createEvent(identity.podNamespace, event(reason, message));
    if (reply.kind !== 'ok')
      log.warn('cannot record the Event; acting anyway', { error: describeReply(reply) });
  };

  const act = async (effect: Extract<Effect, { type: 'act' }>): Promise<void> => {
    const verb = settings.action === 'delete' ? 'deleting' : 'evicting';
    if (effect.dryRun) {
      await record(EVENT_REASON, `dry-run, not ${verb} the pod: ${effect.reason}`);
      return;
    }
    if (effect.attempt === 1) await record(EVENT_REASON, `${verb} the pod: ${effect.reason}`);
    const reply =
      settings.action === 'delete'
        ? await api.deletePod(identity.podNamespace, identity.podName, identity.podUid)
        : await api.evictPod(identity.podNamespace, identity.podName, identity.podUid);
    const result = outcomeOf(reply, settings.action);
    if (result === 'retry' && reply.kind !== 'ok') {
      const blocked = settings.action === 'evict' && reply.kind === 'refused' && reply.status === 429;
      if (blocked && effect.attempt === 1) {
        await record(
          EVENT_REASON_BLOCKED,
          `cannot evict the pod yet (${reply.message}); retrying with backoff`,
        );
      }
      feed({ type: 'acted', result, detail: describeReply(reply) });
    } else {
      feed({ type: 'acted', result });
    }
  };

  const confirm = async (): Promise<void> => {
    const { observation, reply } = await readNode(api, identity.nodeName);
    if (observation) {
      confirmFailures = 0;
      feed(observation);
      return;
    }
    confirmFailures++;
    const delay = deps.retryDelay(confirmFailures);
    log.warn('cannot read the node to confirm the mismatch; not acting, retrying', {
      error: reply.kind === 'ok' ? 'unexpected' : describeReply(reply),
      retryInMs: Math.round(delay),
    });
    perform({ type: 'wake', at: clock.now() + delay });
  };

  const perform = (effect: Effect): void => {
    switch (effect.type) {
      case 'none':
        return;
      case 'wake':
        cancelTimer?.();
        cancelTimer = clock.setTimer(() => feed({ type: 'timer' }), Math.max(0, effect.at - clock.now()));
        return;
      case 'confirm':
        void confirm();
        return;
      case 'act':
        void act(effect);
        return;
    }
  };

  function feed(observation: Observation): void {
    if (signal.aborted) return;
    const step = next(state, observation, clock.now(), policy);
    state = step.state;
    if (step.decision) {
      const { level, message } = DECISION_LOG[step.decision.event];
      log[level](message, {
        decision: step.decision.event,
        reason: step.decision.reason,
        action: settings.action,
      });
    }
    perform(step.effect);
  }

  log.info('starting', { settings: describeSettings(settings), rule });
  signal.addEventListener('abort', () => cancelTimer?.(), { once: true });
  let announced = false;
  await watchNode(
    api,
    identity.nodeName,
    deps.watch,
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
