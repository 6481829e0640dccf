/**
 * A watch on one Node that records every version of its labels with the time it arrived: the suites measure
 * "udev event → label on the node" against it, and check afterwards what the node carried in between.
 */
import { readFileSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import type { V1Node } from '@kubernetes/client-node';
import type { ControlPlane } from './controlplane.js';
import { until } from './until.js';

export interface LabelSnapshot {
  /** performance.now() when the watch event arrived. */
  readonly at: number;
  readonly labels: Readonly<Record<string, string>>;
}

export interface NodeWatch {
  readonly history: readonly LabelSnapshot[];
  /**
   * The first moment at or after `since` when `holds` is true (waits for it): the labels as they stood at `since`
   * (the last snapshot before it) count, at `since`, as do the snapshots that arrive after.
   */
  first(
    holds: (labels: Readonly<Record<string, string>>) => boolean,
    since: number,
    timeoutMs?: number,
  ): Promise<LabelSnapshot>;
  stop(): void;
}

export function watchNode(cp: ControlPlane, name: string): NodeWatch {
  const history: LabelSnapshot[] = [];
  const ca = readFileSync(cp.caFile);
  let current: ClientRequest | undefined;
  let stopped = false;
  let resourceVersion = '';
  const open = (): void => {
    if (stopped) return;
    const query = `watch=1&fieldSelector=metadata.name%3D${name}&allowWatchBookmarks=false${resourceVersion ? `&resourceVersion=${resourceVersion}` : ''}`;
    current = request(
      new URL(`/api/v1/nodes?${query}`, cp.server),
      { ca, headers: { authorization: `Bearer ${cp.adminToken}` } },
      (res) => {
        let buffered = '';
        res.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
            const line = buffered.slice(0, at);
            buffered = buffered.slice(at + 1);
            if (res.statusCode !== 200) continue;
            const event = JSON.parse(line) as { type: string; object: V1Node };
            if (event.type === 'ERROR') resourceVersion = '';
            else {
              resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
              history.push({ at: performance.now(), labels: event.object.metadata?.labels ?? {} });
            }
          }
        });
        // The API server ends a watch after its timeout: open the next one where this one stopped.
        res.on('end', () => setTimeout(open, 10));
      },
    );
    current.on('error', () => setTimeout(open, 100));
    current.end();
  };
  open();
  return {
    history,
    first: (holds, since, timeoutMs = 30_000) =>
      until(
        () =>
          `node ${name}'s labels to change as expected; last seen ${JSON.stringify(history.at(-1)?.labels)}`,
        async () => {
          const before = history.findLast((s) => s.at < since);
          if (before && holds(before.labels)) return { at: since, labels: before.labels };
          return history.find((s) => s.at >= since && holds(s.labels));
        },
        timeoutMs,
        10,
      ),
    stop: () => {
      stopped = true;
      current?.destroy();
    },
  };
}
