import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Reply, WatchEnd, WatchEvent, WatchRequestOptions } from '../src/api.js';
import type { Observation } from '../src/decide.js';
import type { Logger } from '../src/log.js';
import { type NodeSource, watchNode } from '../src/watch.js';

const node = (rv: string, labels: Record<string, string> = {}): V1Node => ({
  metadata: { name: 'pi', resourceVersion: rv, labels },
});

/** A scripted API: each get and each watch request takes the next scripted answer. */
function scripted(gets: Array<Reply<V1Node>>, watches: Array<{ events: WatchEvent[]; end: WatchEnd }>) {
  const calls: string[] = [];
  const controller = new AbortController();
  const source: NodeSource = {
    getNode: async () => {
      calls.push('get');
      const reply = gets.shift();
      if (!reply) throw new Error('unexpected get');
      return reply;
    },
    watchNode: async (_name, rv, options: WatchRequestOptions, onEvent) => {
      calls.push(`watch@${rv ?? 'now'}`);
      const next = watches.shift();
      if (!next) {
        controller.abort();
        return { kind: 'aborted' };
      }
      options.onOpen?.();
      for (const e of next.events) onEvent(e);
      return next.end;
    },
  };
  return { source, calls, controller };
}

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };

async function run(api: ReturnType<typeof scripted>) {
  const observations: Observation[] = [];
  const sleeps: number[] = [];
  await watchNode(
    api.source,
    'pi',
    {
      timeoutSeconds: 300,
      idleTimeoutMs: 360_000,
      retryDelay: (attempt) => 100 * attempt,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
    quiet,
    (o) => observations.push(o),
    () => {},
    api.controller.signal,
  );
  return { observations, sleeps, calls: api.calls };
}

const unreachable: WatchEnd = { kind: 'unreachable', message: 'ECONNREFUSED' };

describe('the node watch', () => {
  it('gets the node, then watches from its resourceVersion and follows bookmarks', async () => {
    const api = scripted(
      [{ kind: 'ok', status: 200, body: node('10') }],
      [
        { events: [{ type: 'BOOKMARK', object: node('15') }], end: { kind: 'closed' } },
        { events: [{ type: 'MODIFIED', object: node('20', { a: 'b' }) }], end: { kind: 'closed' } },
      ],
    );
    const { calls, observations } = await run(api);
    expect(calls).toEqual(['get', 'watch@10', 'watch@15', 'watch@20']);
    expect(observations.map((o) => o.type)).toEqual(['node', 'node']);
  });

  it('reads the node again after 410 Gone, as an event or as the answer', async () => {
    const api = scripted(
      [
        { kind: 'ok', status: 200, body: node('10') },
        { kind: 'ok', status: 200, body: node('30') },
        { kind: 'ok', status: 200, body: node('40') },
      ],
      [
        { events: [{ type: 'ERROR', object: { code: 410, reason: 'Expired' } }], end: { kind: 'closed' } },
        { events: [], end: { kind: 'refused', status: 410, reason: 'Gone', message: 'too old' } },
      ],
    );
    expect((await run(api)).calls).toEqual(['get', 'watch@10', 'get', 'watch@30', 'get', 'watch@40']);
  });

  it('resumes from the same resourceVersion after a dropped connection, with growing delays', async () => {
    const api = scripted(
      [{ kind: 'ok', status: 200, body: node('10') }],
      [
        { events: [], end: unreachable },
        { events: [], end: unreachable },
        { events: [], end: { kind: 'refused', status: 500, reason: 'InternalError', message: 'etcd' } },
      ],
    );
    const { calls, sleeps, observations } = await run(api);
    expect(calls).toEqual(['get', 'watch@10', 'watch@10', 'watch@10', 'watch@10']);
    // The scripted watch "opens" each time, which resets the failure count.
    expect(sleeps.every((ms) => ms > 0)).toBe(true);
    expect(observations).toHaveLength(1);
  });

  it('turns no failure into an observation: unreachable, 401 and 403 only delay', async () => {
    const api = scripted(
      [
        { kind: 'unreachable', message: 'ECONNREFUSED' },
        { kind: 'refused', status: 401, reason: 'Unauthorized', message: '' },
        { kind: 'refused', status: 403, reason: 'Forbidden', message: '' },
        { kind: 'ok', status: 200, body: node('10') },
      ],
      [],
    );
    const { observations, sleeps } = await run(api);
    expect(sleeps).toEqual([100, 200, 300]);
    expect(observations).toEqual([{ type: 'node', node: node('10') }]);
  });

  it('reports a deleted node, and watches from now for its return', async () => {
    const api = scripted(
      [{ kind: 'refused', status: 404, reason: 'NotFound', message: '' }],
      [
        {
          events: [
            { type: 'ADDED', object: node('50') },
            { type: 'DELETED', object: node('51') },
          ],
          end: { kind: 'closed' },
        },
      ],
    );
    const { calls, observations } = await run(api);
    expect(calls).toEqual(['get', 'watch@now', 'watch@51']);
    expect(observations.map((o) => o.type)).toEqual(['node-deleted', 'node', 'node-deleted']);
  });
});
