import type { V1Node } from '@kubernetes/client-node';
import { HEALTHY_WATCH_MS, type Log } from '@sidecar-destruct/core';
import { describe, expect, it } from 'vitest';
import type { ApiReply, WatchEnd, WatchEvent, WatchFrom, WatchRequestOptions } from '../src/api.js';
import type { Observation } from '../src/pure/decide.js';
import { type NodeSource, watchNode } from '../src/watch.js';

const node = (rv: string, labels: Record<string, string> = {}): V1Node => ({
  metadata: { name: 'pi', resourceVersion: rv, labels },
});

interface ScriptedWatch {
  readonly events?: WatchEvent[];
  readonly end: WatchEnd;
  /** How long the stream stays open, on the fake monotonic clock. */
  readonly openMs?: number;
  /** The server refused before opening (no onOpen). */
  readonly refused?: boolean;
}

/** A scripted API on a fake clock: each get and each watch request takes the next scripted answer. */
function scripted(gets: Array<ApiReply<V1Node>>, watches: ScriptedWatch[]) {
  const calls: string[] = [];
  const timeouts: number[] = [];
  const controller = new AbortController();
  let now = 0;
  const at = (start: WatchFrom) => (start.from === 'rv' ? start.rv : 'now');
  const source: NodeSource = {
    getNode: async () => {
      calls.push('get');
      const reply = gets.shift();
      if (!reply) throw new Error('unexpected get');
      return reply;
    },
    watchNode: async (_name, start, options: WatchRequestOptions, onEvent) => {
      calls.push(`watch@${at(start)}`);
      timeouts.push(options.timeoutSeconds);
      const next = watches.shift();
      if (!next) {
        controller.abort();
        return { kind: 'aborted' };
      }
      if (!next.refused) options.onOpen?.();
      for (const e of next.events ?? []) onEvent(e);
      now += next.openMs ?? 0;
      return next.end;
    },
  };
  return {
    source,
    calls,
    timeouts,
    controller,
    clock: { now: () => now, advance: (ms: number) => (now += ms) },
  };
}

const quiet: Log = { info: () => {}, warn: () => {}, error: () => {} };

async function run(api: ReturnType<typeof scripted>, random = () => 1) {
  const observations: Observation[] = [];
  const links: boolean[] = [];
  const sleeps: number[] = [];
  await watchNode(
    api.source,
    'pi',
    {
      now: api.clock.now,
      random,
      minTimeoutSeconds: 300,
      sleep: async (ms) => {
        sleeps.push(ms);
        api.clock.advance(ms);
      },
    },
    quiet,
    (o) => (o.type === 'watch' ? links.push(o.up) : observations.push(o)),
    () => {},
    api.controller.signal,
  );
  return { observations, links, sleeps, calls: api.calls, timeouts: api.timeouts };
}

const unreachable: WatchEnd = { kind: 'unreachable', message: 'ECONNREFUSED' };
const ok = (body: V1Node): ApiReply<V1Node> => ({ kind: 'ok', status: 200, body });
const timedOut = (events: WatchEvent[] = []): ScriptedWatch => ({
  events,
  end: { kind: 'closed' },
  openMs: 400_000,
});

describe('the node watch', () => {
  it('reads the node, then watches from now and follows bookmarks, resuming at once after a healthy stream', async () => {
    const api = scripted(
      [ok(node('10'))],
      [
        timedOut([{ type: 'BOOKMARK', object: node('15') }]),
        timedOut([{ type: 'MODIFIED', object: node('20', { a: 'b' }) }]),
      ],
    );
    const { calls, observations, sleeps } = await run(api);
    expect(calls).toEqual(['get', 'watch@now', 'watch@15', 'watch@20']);
    expect(observations.map((o) => [o.type, 'read' in o && o.read !== undefined])).toEqual([
      ['node', true],
      ['node', false],
    ]);
    expect(sleeps).toEqual([]);
  });

  it('stamps its own reads (sent when, current, not requested by the decision) and leaves watch events unstamped', async () => {
    const api = scripted(
      [ok(node('10'))],
      [
        timedOut([
          { type: 'MODIFIED', object: node('11') },
          { type: 'DELETED', object: node('12') },
        ]),
      ],
    );
    const { observations } = await run(api);
    expect(observations).toEqual([
      { type: 'node', node: node('10'), read: { sentAt: 0, requested: false } },
      { type: 'node', node: node('11') },
      { type: 'node-deleted', nodeName: 'pi' },
    ]);
  });

  it('says when the watch comes up and when it goes down, and nothing for a watch refused before it opened', async () => {
    const api = scripted(
      [ok(node('10'))],
      [
        timedOut(),
        { end: { kind: 'refused', status: 500, reason: 'InternalError', message: '' }, refused: true },
        timedOut(),
      ],
    );
    expect((await run(api)).links).toEqual([true, false, true, false]);
  });

  it('asks each watch for a timeout drawn between 5 and 10 minutes', async () => {
    const draws = [0, 0.5, 0.99];
    const api = scripted([ok(node('10'))], [timedOut(), timedOut(), timedOut()]);
    const { timeouts } = await run(api, () => draws.shift() ?? 0);
    expect(timeouts).toEqual([300, 450, 597, 300]);
  });

  it('reads the node again at once after 410 Gone, and backs off when 410 repeats at once', async () => {
    const gone = { type: 'ERROR', object: { code: 410, reason: 'Expired' } } as const;
    const api = scripted(
      [ok(node('10')), ok(node('30')), ok(node('40'))],
      [
        { events: [gone], end: { kind: 'closed' }, openMs: 5 },
        { end: { kind: 'refused', status: 410, reason: 'Gone', message: 'too old' }, refused: true },
      ],
    );
    const { calls, sleeps } = await run(api);
    expect(calls).toEqual(['get', 'watch@now', 'get', 'watch@now', 'get', 'watch@now']);
    expect(sleeps).toEqual([1_600]);
  });

  it('backs off with doubling windows from a server that accepts each watch and fails it at once', async () => {
    const failing = (end: WatchEnd): ScriptedWatch => ({
      events: [{ type: 'ERROR', object: { code: 500 } }],
      end,
      openMs: 1,
    });
    const api = scripted(
      [ok(node('10'))],
      [failing(unreachable), failing({ kind: 'closed' }), failing(unreachable), failing(unreachable)],
    );
    const { calls, sleeps, observations } = await run(api);
    expect(calls).toEqual(['get', 'watch@now', 'watch@now', 'watch@now', 'watch@now', 'watch@now']);
    expect(sleeps).toEqual([800, 1_600, 3_200, 6_400]);
    expect(observations).toHaveLength(1);
  });

  it("waits as long as a 429's Retry-After asks", async () => {
    const api = scripted(
      [ok(node('10'))],
      [
        {
          end: { kind: 'refused', status: 429, reason: 'TooManyRequests', message: '', retryAfterMs: 20_000 },
          refused: true,
        },
      ],
    );
    expect((await run(api, () => 0)).sleeps).toEqual([20_000]);
  });

  it('resets the backoff only after a watch that stayed open', async () => {
    const api = scripted(
      [ok(node('10'))],
      [
        { end: unreachable, openMs: 1 },
        { end: unreachable, openMs: 1 },
        { end: unreachable, openMs: HEALTHY_WATCH_MS },
        { end: unreachable, openMs: 1 },
      ],
    );
    expect((await run(api)).sleeps).toEqual([800, 1_600, 800, 1_600]);
  });

  it('turns no failure into an observation: unreachable, 401 and 403 only delay, with growing backoff', async () => {
    const api = scripted(
      [
        { kind: 'unreachable', message: 'ECONNREFUSED' },
        { kind: 'refused', status: 401, reason: 'Unauthorized', message: '' },
        { kind: 'refused', status: 403, reason: 'Forbidden', message: '' },
        { kind: 'malformed', message: 'not JSON' },
        ok(node('10')),
      ],
      [],
    );
    const { observations, sleeps } = await run(api);
    expect(sleeps).toEqual([800, 1_600, 3_200, 6_400]);
    expect(observations).toEqual([
      { type: 'node', node: node('10'), read: { sentAt: 12_000, requested: false } },
    ]);
  });

  it('takes a bare 404 from something in between for a failure, not for a deleted node', async () => {
    const api = scripted(
      [{ kind: 'refused', status: 404, reason: '', message: '<html>not found</html>' }, ok(node('10'))],
      [],
    );
    const { observations, sleeps } = await run(api);
    expect(sleeps).toHaveLength(1);
    expect(observations.map((o) => o.type)).toEqual(['node']);
  });

  it('reports a deleted node, and watches from now for its return', async () => {
    const api = scripted(
      [{ kind: 'refused', status: 404, reason: 'NotFound', message: '' }],
      [
        timedOut([
          { type: 'ADDED', object: node('50') },
          { type: 'DELETED', object: node('51') },
        ]),
      ],
    );
    const { calls, observations } = await run(api);
    expect(calls).toEqual(['get', 'watch@now', 'watch@51']);
    expect(observations.map((o) => o.type)).toEqual(['node-deleted', 'node', 'node-deleted']);
  });
});

describe('after an API server restart', () => {
  it("watches from now after a read, never from the node's own resourceVersion, which the new watch cache may not hold", async () => {
    // The node last changed long ago (rv 3); the restarted server's cache starts at rv 900.
    const old = node('3');
    const api = scripted(
      [{ kind: 'ok', status: 200, body: old }],
      [timedOut([{ type: 'ADDED', object: node('900') }])],
    );
    const { calls } = await run(api);
    expect(calls).toEqual(['get', 'watch@now', 'watch@900']);
  });
});
