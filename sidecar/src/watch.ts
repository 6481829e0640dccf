/**
 * Keeps a watch on one Node open for as long as the sidecar runs, feeding what the API server says about the
 * Node onward, as client-go's reflector does:
 * - read the node (a GET), then watch from now with bookmarks, resuming from the last event's resourceVersion;
 * - each watch asks for a timeout drawn between 5 and 10 minutes, so a fleet never reconnects in step;
 * - a clean close after a healthy stream resumes at once; `410 Gone` reads the node again (at once the first
 *   time, with backoff if it repeats); everything else backs off with full jitter (core/src/backoff.ts), honouring
 *   `Retry-After`; the backoff is reset only by a watch that stayed open, never by a connection merely opening;
 * - a watch that goes silent for longer than two and a half bookmark intervals is abandoned.
 * Failures are never observations: only what the API server actually returned about the Node is. Only GETs carry
 * a `read` stamp; watch events may replay history after a reconnect.
 */
import type { V1Node } from '@kubernetes/client-node';
import { backoffDelay, reconnect, watchTimeoutSeconds } from '@sidecar-destruct/core';
import {
  type ApiFailure,
  type ApiReply,
  describeFailure,
  retryAfterOf,
  type WatchEnd,
  type WatchEvent,
  type WatchFrom,
  type WatchRequestOptions,
} from './api.js';
import type { Logger } from './log.js';
import type { Observation } from './pure/decide.js';

export interface NodeSource {
  getNode(name: string): Promise<ApiReply<V1Node>>;
  watchNode(
    name: string,
    start: WatchFrom,
    options: WatchRequestOptions,
    onEvent: (event: WatchEvent) => void,
  ): Promise<WatchEnd>;
}

export interface WatchOptions {
  /** Monotonic milliseconds. */
  readonly now: () => number;
  readonly random: () => number;
  /** Resolves after `ms`, or when the signal aborts. */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The shortest watch timeout asked of the server; each watch draws between this and twice it. */
  readonly minTimeoutSeconds: number;
  /** Logged with a 403: how to grant the pod's account the sidecar roles. */
  readonly forbiddenAdvice?: string;
}

/**
 * A watch that has sent nothing, not even a bookmark, for this long is dead (a half-open connection, a stalled
 * proxy). kube-apiserver sends a bookmark on every quiet watch once a minute (measured on v1.37: at 60.5 s and
 * 120.5 s), so two and a half minutes of silence is no longer a quiet node; an older server without periodic
 * bookmarks only costs one extra, immediate watch every 150 s.
 */
export const WATCH_IDLE_MS = 150_000;

/** Where the loop goes next: read the node first, or watch from where the last one left off. */
type Resume = { readonly from: 'relist' } | WatchFrom;

/**
 * A GET of the node as an observation (without its `read` stamp, which the caller adds), or the failure that kept
 * it from being one. Only the API's own NotFound Status means the node is gone: a bare 404 from something in
 * between (a misrouted proxy) is a failure like any other.
 */
export async function readNode(
  api: Pick<NodeSource, 'getNode'>,
  name: string,
): Promise<{ observation: Observation & { type: 'node' | 'node-deleted' } } | { failure: ApiFailure }> {
  const reply = await api.getNode(name);
  if (reply.kind === 'ok') return { observation: { type: 'node', node: reply.body } };
  if (reply.kind === 'refused' && reply.status === 404 && reply.reason === 'NotFound')
    return { observation: { type: 'node-deleted', nodeName: name } };
  return { failure: reply };
}

export async function watchNode(
  api: NodeSource,
  nodeName: string,
  options: WatchOptions,
  log: Logger,
  observe: (observation: Observation) => void,
  onWatching: () => void,
  signal: AbortSignal,
): Promise<void> {
  let resume: Resume = { from: 'relist' };
  let failures = 0;
  /** Waits out a backoff, saying why: a failure of the API (with advice on a 403), or a watch that ended early. */
  const wait = async (delayMs: number, why: ApiFailure | string): Promise<void> => {
    if (delayMs <= 0) return;
    const forbidden = typeof why !== 'string' && why.kind === 'refused' && why.status === 403;
    log.warn('cannot observe the node; waiting before retrying (no action is taken meanwhile)', {
      error: typeof why === 'string' ? why : describeFailure(why),
      attempt: failures,
      retryInMs: Math.round(delayMs),
      ...(forbidden && options.forbiddenAdvice ? { advice: options.forbiddenAdvice } : {}),
    });
    await options.sleep(delayMs, signal);
  };

  while (!signal.aborted) {
    if (resume.from === 'relist') {
      const sentAt = options.now();
      const read = await readNode(api, nodeName);
      if (signal.aborted) return;
      if ('failure' in read) {
        failures++;
        await wait(
          backoffDelay(failures, options.random, retryAfterOf(read.failure).retryAfterMs),
          read.failure,
        );
        continue;
      }
      observe({ ...read.observation, read: { sentAt, requested: false } });
      // From now, not from the node's resourceVersion: that is when the node last changed, which after an API
      // server restart can be older than its watch cache and would be answered 410 again and again. A watch
      // from now starts with the node as it is (an ADDED event), so nothing between the read and it is lost.
      resume = { from: 'now' };
    }

    let expired = false;
    let openedAt: number | undefined;
    const timeoutSeconds = watchTimeoutSeconds(options.random, options.minTimeoutSeconds);
    const end = await api.watchNode(
      nodeName,
      resume,
      {
        timeoutSeconds,
        idleTimeoutMs: Math.min(WATCH_IDLE_MS, (timeoutSeconds + 60) * 1_000),
        onOpen: () => {
          openedAt = options.now();
          observe({ type: 'watch', up: true });
          onWatching();
        },
      },
      (event) => {
        if (event.type === 'ERROR') {
          // 410 Gone: the resourceVersion is too old to resume from; read the node again.
          if (event.object.code === 410) expired = true;
          else log.warn('watch error event', { status: event.object.code, message: event.object.message });
          return;
        }
        const rv = event.object.metadata?.resourceVersion;
        if (rv) resume = { from: 'rv', rv };
        if (event.type === 'ADDED' || event.type === 'MODIFIED')
          observe({ type: 'node', node: event.object });
        else if (event.type === 'DELETED') observe({ type: 'node-deleted', nodeName });
      },
    );
    if (signal.aborted || end.kind === 'aborted') return;
    if (openedAt !== undefined) observe({ type: 'watch', up: false });
    expired ||= end.kind === 'refused' && end.status === 410;
    if (expired) resume = { from: 'relist' };
    const step = reconnect(
      failures,
      {
        openMs: openedAt === undefined ? 0 : options.now() - openedAt,
        cleanClose: end.kind === 'closed' && !expired,
        expired,
        ...(end.kind === 'closed' ? {} : retryAfterOf(end)),
      },
      options.random,
    );
    failures = step.failures;
    await wait(
      step.delayMs,
      end.kind !== 'closed' ? end : expired ? 'resourceVersion expired (410)' : 'watch closed early',
    );
  }
}
