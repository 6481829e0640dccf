import type { V1Node } from '@kubernetes/client-node';
import { DEFAULT_SETTINGS, type Log, type SidecarContract } from '@sidecar-destruct/core';
import { describe, expect, it } from 'vitest';
import type { ApiReply, WatchEnd, WatchEvent } from '../src/api.js';
import { serviceAccountOf } from '../src/main.js';
import { type Clock, runSidecar, type SidecarDeps } from '../src/sidecar.js';

const USB = 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present';
const unplugged: V1Node = {
  metadata: {
    name: 'pi',
    resourceVersion: '5',
    labels: { 'feature.node.kubernetes.io/cpu-cpuid.AVX2': 'true' },
  },
};
const contract: SidecarContract = {
  identity: { nodeName: 'pi', podName: 'z2m', podNamespace: 'home', podUid: 'uid-1' },
  rule: { source: 'pod', nodeSelector: { [USB]: 'true' } },
  settings: { ...DEFAULT_SETTINGS, gracePeriodMs: 30_000 },
};

/** A monotonic clock and a wall clock that the test moves independently, with timers on the monotonic one. */
function clocks() {
  let mono = 0;
  let wall = Date.UTC(2026, 0, 1);
  const timers: Array<{ at: number; fn: () => void }> = [];
  const clock: Clock = {
    now: () => mono,
    wallNow: () => wall,
    setTimer: (fn, ms) => {
      const timer = { at: mono + ms, fn };
      timers.push(timer);
      return () => timers.splice(timers.indexOf(timer), 1);
    },
  };
  const settle = () => new Promise((r) => setImmediate(r));
  return {
    clock,
    stepWall: (ms: number) => {
      wall += ms;
    },
    advance: async (ms: number) => {
      mono += ms;
      for (const t of timers.filter((t) => t.at <= mono)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
      await settle();
      await settle();
    },
    settle,
  };
}

const quiet: Log = { info: () => {}, warn: () => {}, error: () => {} };

function started() {
  const time = clocks();
  const calls: string[] = [];
  const controller = new AbortController();
  const ok = <T>(body: T): ApiReply<T> => ({ kind: 'ok', status: 200, body });
  const deps: SidecarDeps = {
    api: {
      getNode: async () => {
        calls.push('get');
        return ok(unplugged);
      },
      watchNode: (_n, _s, options) =>
        new Promise<WatchEnd>((resolve) => {
          options.onOpen?.();
          controller.signal.addEventListener('abort', () => resolve({ kind: 'aborted' }));
        }),
      deletePod: async () => {
        calls.push('delete');
        return ok({});
      },
      evictPod: async () => ok({}),
      createEvent: async () => {
        calls.push('event');
        return ok({});
      },
    },
    clock: time.clock,
    log: quiet,
    retryDelay: () => 1_000,
    watch: { random: () => 0, minTimeoutSeconds: 300, sleep: async () => {} },
  };
  const running = runSidecar(contract, deps, controller.signal);
  return { time, calls, stop: () => controller.abort(), running };
}

describe('the sidecar under clock steps', () => {
  it.each([
    ['forward', 3_600_000],
    ['backward', -3_600_000],
  ])('a %s step of the wall clock by an hour neither ends nor stretches a grace period', async (_d, step) => {
    const { time, calls, stop, running } = started();
    await time.settle();
    expect(calls).toEqual(['get']);

    await time.advance(1_000);
    time.stepWall(step);
    await time.advance(28_000);
    expect(calls, 'acted before the grace period ran out on the monotonic clock').toEqual(['get']);

    await time.advance(1_000);
    expect(calls).toEqual(['get', 'get', 'event', 'delete']);
    stop();
    await running;
  });
});

describe('the executor', () => {
  it('does not act on an answer that a newer watch event overtook', async () => {
    const time = clocks();
    const calls: string[] = [];
    const controller = new AbortController();
    const plugged: V1Node = {
      metadata: { ...unplugged.metadata, labels: { ...unplugged.metadata?.labels, [USB]: 'true' } },
    };
    let answerGet: (node: V1Node) => void = () => {};
    let emit: (event: WatchEvent) => void = () => {};
    let gets = 0;
    const ok = <T>(body: T): ApiReply<T> => ({ kind: 'ok', status: 200, body });
    const running = runSidecar(
      { ...contract, settings: { ...contract.settings, gracePeriodMs: 0 } },
      {
        api: {
          getNode: () => {
            calls.push('get');
            // The watch loop's first read answers at once; the decision's read is held until the test answers it.
            if (gets++ === 0) return Promise.resolve(ok(plugged));
            return new Promise((resolve) => {
              answerGet = (node) => resolve(ok(node));
            });
          },
          watchNode: (_n, _s, options, onEvent) =>
            new Promise<WatchEnd>((resolve) => {
              options.onOpen?.();
              emit = onEvent;
              controller.signal.addEventListener('abort', () => resolve({ kind: 'aborted' }));
            }),
          deletePod: async () => {
            calls.push('delete');
            return ok({});
          },
          evictPod: async () => ok({}),
          createEvent: async () => ok({}),
        },
        clock: time.clock,
        log: quiet,
        retryDelay: () => 1_000,
        watch: { random: () => 0, minTimeoutSeconds: 300, sleep: async () => {} },
      },
      controller.signal,
    );
    await time.settle();
    await time.advance(2_000); // the watch has settled
    emit({ type: 'MODIFIED', object: unplugged }); // asks for a read
    expect(calls).toEqual(['get', 'get']);
    emit({ type: 'MODIFIED', object: plugged }); // the label is back before the answer
    answerGet(unplugged); // the answer was served while the label was gone
    await time.settle();
    expect(calls).not.toContain('delete');
    controller.abort();
    await running;
  });
});

describe("the pod's ServiceAccount", () => {
  const token = (claims: object) => `x.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

  it("is read from the bound token's subject, to name it in advice", async () => {
    const read = async () => token({ sub: 'system:serviceaccount:team:deployer' });
    expect(await serviceAccountOf({ token: read })).toEqual({ namespace: 'team', name: 'deployer' });
  });

  it.each([
    ['no token', async () => undefined],
    ['a token that is not a JWT', async () => 'opaque'],
    ['a user token', async () => token({ sub: 'alice' })],
    ['an unreadable token file', async () => Promise.reject(new Error('ENOENT'))],
  ])('is unknown with %s', async (_what, read) => {
    expect(await serviceAccountOf({ token: read })).toBeUndefined();
  });
});
