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
import { backoffDelay, type Log, reconnect, watchTimeoutSeconds } from '@sidecar-destruct/core';
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

/**
 * The loop's state between steps: where to resume and how many watches in a row failed. One method per step:
 * read the node, watch it, wait out a backoff.
 */
class NodeWatcher {
  private resume: Resume = { from: 'relist' };
  private failures = 0;

  constructor(
    private readonly api: NodeSource,
    private readonly nodeName: string,
    private readonly options: WatchOptions,
    private readonly log: Log,
    private readonly observe: (observation: Observation) => void,
    private readonly onWatching: () => void,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<void> {
    while (!this.signal.aborted) {
      if (this.resume.from === 'relist' && !(await this.relist())) continue;
      if (this.signal.aborted || !(await this.watchOnce())) return;
    }
  }

  /** Reads the node; false when the read failed (after waiting out the backoff) or the sidecar is stopping. */
  private async relist(): Promise<boolean> {
    const sentAt = this.options.now();
    const read = await readNode(this.api, this.nodeName);
    if (this.signal.aborted) return false;
    if ('failure' in read) {
      this.failures++;
      const retryAfterMs = retryAfterOf(read.failure).retryAfterMs;
      await this.wait(backoffDelay(this.failures, this.options.random, retryAfterMs), read.failure);
      return false;
    }
    this.observe({ ...read.observation, read: { sentAt, requested: false } });
    // From now, not from the node's resourceVersion: that is when the node last changed, which after an API
    // server restart can be older than its watch cache and would be answered 410 again and again. A watch
    // from now starts with the node as it is (an ADDED event), so nothing between the read and it is lost.
    this.resume = { from: 'now' };
    return true;
  }

  /** One watch request, start to end, then the backoff it earned; false when the sidecar is stopping. */
  private async watchOnce(): Promise<boolean> {
    const { options, nodeName } = this;
    let expired = false;
    let openedAt: number | undefined;
    const timeoutSeconds = watchTimeoutSeconds(options.random, options.minTimeoutSeconds);
    const end = await this.api.watchNode(
      nodeName,
      this.resume as WatchFrom,
      {
        timeoutSeconds,
        idleTimeoutMs: Math.min(WATCH_IDLE_MS, (timeoutSeconds + 60) * 1_000),
        onOpen: () => {
          openedAt = options.now();
          this.observe({ type: 'watch', up: true });
          this.onWatching();
        },
      },
      (event) => {
        if (event.type === 'ERROR') {
          // 410 Gone: the resourceVersion is too old to resume from; read the node again.
          if (event.object.code === 410) expired = true;
          else
            this.log.warn({ status: event.object.code, message: event.object.message }, 'watch error event');
          return;
        }
        const rv = event.object.metadata?.resourceVersion;
        if (rv) this.resume = { from: 'rv', rv };
        if (event.type === 'ADDED' || event.type === 'MODIFIED')
          this.observe({ type: 'node', node: event.object });
        else if (event.type === 'DELETED') this.observe({ type: 'node-deleted', nodeName });
      },
    );
    if (this.signal.aborted || end.kind === 'aborted') return false;
    if (openedAt !== undefined) this.observe({ type: 'watch', up: false });
    expired ||= end.kind === 'refused' && end.status === 410;
    if (expired) this.resume = { from: 'relist' };
    const step = reconnect(
      this.failures,
      {
        openMs: openedAt === undefined ? 0 : options.now() - openedAt,
        cleanClose: end.kind === 'closed' && !expired,
        expired,
        ...(end.kind === 'closed' ? {} : retryAfterOf(end)),
      },
      options.random,
    );
    this.failures = step.failures;
    const why =
      end.kind !== 'closed' ? end : expired ? 'resourceVersion expired (410)' : 'watch closed early';
    await this.wait(step.delayMs, why);
    return true;
  }

  /** Waits out a backoff, saying why: a failure of the API (with advice on a 403), or a watch that ended early. */
  private async wait(delayMs: number, why: ApiFailure | string): Promise<void> {
    if (delayMs <= 0) return;
    const forbidden = typeof why !== 'string' && why.kind === 'refused' && why.status === 403;
    this.log.warn(
      {
        error: typeof why === 'string' ? why : describeFailure(why),
        attempt: this.failures,
        retryInMs: Math.round(delayMs),
        ...(forbidden && this.options.forbiddenAdvice ? { advice: this.options.forbiddenAdvice } : {}),
      },
      'cannot observe the node; waiting before retrying (no action is taken meanwhile)',
    );
    await this.options.sleep(delayMs, this.signal);
  }
}

export async function watchNode(
  api: NodeSource,
  nodeName: string,
  options: WatchOptions,
  log: Log,
  observe: (observation: Observation) => void,
  onWatching: () => void,
  signal: AbortSignal,
): Promise<void> {
  await new NodeWatcher(api, nodeName, options, log, observe, onWatching, signal).run();
}
