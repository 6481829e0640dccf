/**
 * Keeps a watch on one Node open for as long as the sidecar runs, feeding every fresh observation onward.
 *
 * Get the node, then watch from its resourceVersion with bookmarks; when the server closes the stream (its
 * timeout), resume from the last resourceVersion at once; on `410 Gone` get the node again; on any failure log,
 * back off (capped, jittered) and resume. A watch that goes silent (no event, no bookmark) for longer than the
 * server's timeout allows is abandoned and resumed. Failures are never observations: only what the API server
 * actually returned about the Node is.
 */

import type { V1Node } from '@kubernetes/client-node';
import type { Reply, WatchEnd, WatchEvent, WatchRequestOptions } from './api.js';
import type { Observation } from './decide.js';
import type { Logger } from './log.js';

export interface NodeSource {
  getNode(name: string): Promise<Reply<V1Node>>;
  watchNode(
    name: string,
    resourceVersion: string | undefined,
    options: WatchRequestOptions,
    onEvent: (event: WatchEvent) => void,
  ): Promise<WatchEnd>;
}

export interface WatchOptions {
  /** Asked of the server per watch request; it closes the stream after about this long. */
  readonly timeoutSeconds: number;
  /** Abandon a watch that has sent nothing for this long. */
  readonly idleTimeoutMs: number;
  /** Delay before reconnect attempt `n` (1-based) after failures. */
  readonly retryDelay: (attempt: number) => number;
  /** Resolves after `ms`, or when the signal aborts. */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A fresh read of the node as an observation; undefined when the API did not answer about the node. */
export async function readNode(
  api: NodeSource,
  name: string,
): Promise<{ observation?: Observation; reply: Reply<V1Node> }> {
  const reply = await api.getNode(name);
  if (reply.kind === 'ok') return { observation: { type: 'node', node: reply.body }, reply };
  if (reply.kind === 'refused' && reply.status === 404)
    return { observation: { type: 'node-deleted', nodeName: name }, reply };
  return { reply };
}

const describe = (end: Exclude<Reply<never>, { kind: 'ok' }>): string =>
  end.kind === 'refused' ? `HTTP ${end.status} ${end.reason}: ${end.message}` : end.message;

export async function watchNode(
  api: NodeSource,
  nodeName: string,
  options: WatchOptions,
  log: Logger,
  observe: (observation: Observation) => void,
  onWatching: () => void,
  signal: AbortSignal,
): Promise<void> {
  /** Where to resume: `undefined` means "get the node first". */
  let resourceVersion: string | undefined;
  let failures = 0;
  const fail = async (what: string): Promise<void> => {
    failures++;
    const delay = options.retryDelay(failures);
    log.warn('cannot observe the node; waiting before retrying (no action is taken meanwhile)', {
      error: what,
      attempt: failures,
      retryInMs: Math.round(delay),
    });
    await options.sleep(delay, signal);
  };

  while (!signal.aborted) {
    if (resourceVersion === undefined) {
      const { observation, reply } = await readNode(api, nodeName);
      if (signal.aborted) return;
      if (!observation) {
        await fail(reply.kind === 'ok' ? 'unexpected' : describe(reply));
        continue;
      }
      observe(observation);
      // A deleted node has no resourceVersion to resume from: watch from now, which also reports a re-creation.
      resourceVersion = reply.kind === 'ok' ? (reply.body.metadata?.resourceVersion ?? '') : '';
    }

    let gone = false;
    const end = await api.watchNode(
      nodeName,
      resourceVersion === '' ? undefined : resourceVersion,
      {
        timeoutSeconds: options.timeoutSeconds,
        idleTimeoutMs: options.idleTimeoutMs,
        signal,
        onOpen: () => {
          failures = 0;
          onWatching();
        },
      },
      (event) => {
        if (event.type === 'ERROR') {
          // 410 Gone: the resourceVersion is too old to resume from; get the node again.
          if (event.object.code === 410) gone = true;
          else log.warn('watch error event', { status: event.object.code, message: event.object.message });
          return;
        }
        const rv = event.object.metadata?.resourceVersion;
        if (rv) resourceVersion = rv;
        if (event.type === 'ADDED' || event.type === 'MODIFIED')
          observe({ type: 'node', node: event.object });
        else if (event.type === 'DELETED') observe({ type: 'node-deleted', nodeName });
      },
    );
    if (signal.aborted || end.kind === 'aborted') return;
    if (gone || (end.kind === 'refused' && end.status === 410)) {
      resourceVersion = undefined;
      continue;
    }
    // The server closed the stream at its timeout: resume from the last resourceVersion at once.
    if (end.kind === 'closed') continue;
    // Dropped, refused or silent: resume from the same resourceVersion after a backoff; the watch replays what
    // happened meanwhile, or answers 410 and the node is read again.
    await fail(describe(end));
  }
}
