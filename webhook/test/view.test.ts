import type { KubernetesObject, ListWatch } from '@kubernetes/client-node';
import { BACKOFF, HEALTHY_WATCH_MS } from '@sidecar-destruct/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keepWatching } from '../src/view.js';

/** The part of ListWatch that keepWatching drives: start(), and the error callback it listens on. */
function fakeInformer() {
  const onError: Array<(e: unknown) => void> = [];
  const informer = {
    starts: 0,
    start: async () => {
      informer.starts += 1;
    },
    on: (event: string, callback: (e: unknown) => void) => {
      if (event === 'error') onError.push(callback);
    },
    fail: (message: string) => {
      for (const callback of onError) callback(new Error(message));
    },
  };
  return informer;
}

describe('a watch of the webhook restarted after a failure', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    // Full jitter draws half of each window.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('backs off in doubling windows, and starts from the first window only after a healthy run', async () => {
    const informer = fakeInformer();
    const watches = {
      healthy: new Map<string, boolean>(),
      timers: new Set<NodeJS.Timeout>(),
      stopped: false,
    };
    const warnings: unknown[] = [];
    const restartsAfter = async (ms: number) => {
      const before = informer.starts;
      await vi.advanceTimersByTimeAsync(ms - 1);
      expect(informer.starts, `restarted before ${ms} ms`).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(informer.starts, `not restarted at ${ms} ms`).toBe(before + 1);
    };
    keepWatching('accounts', informer as unknown as ListWatch<KubernetesObject>, watches, () => {}, {
      warn: (fields) => warnings.push(fields),
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(watches.healthy.get('accounts')).toBe(true);

    informer.fail('connection reset');
    expect(watches.healthy.get('accounts')).toBe(false);
    await restartsAfter(BACKOFF.baseMs / 2);
    // A watch that opens and fails at once is no proof of health: the window doubles.
    informer.fail('connection reset');
    await restartsAfter(BACKOFF.baseMs);
    await vi.advanceTimersByTimeAsync(HEALTHY_WATCH_MS - 1);
    informer.fail('connection reset');
    await restartsAfter(BACKOFF.baseMs * 2);

    // A run of HEALTHY_WATCH_MS resets the count: the next failure waits the first window again.
    await vi.advanceTimersByTimeAsync(HEALTHY_WATCH_MS);
    informer.fail('connection reset');
    await restartsAfter(BACKOFF.baseMs / 2);
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toEqual({ watch: 'accounts', error: 'connection reset' });
  });

  it('starts nothing more once stopped', async () => {
    const informer = fakeInformer();
    const watches = {
      healthy: new Map<string, boolean>(),
      timers: new Set<NodeJS.Timeout>(),
      stopped: false,
    };
    keepWatching('accounts', informer as unknown as ListWatch<KubernetesObject>, watches, () => {}, {
      warn: () => {},
    });
    await vi.advanceTimersByTimeAsync(0);
    watches.stopped = true;
    informer.fail('connection reset');
    await vi.advanceTimersByTimeAsync(BACKOFF.capMs);
    expect(informer.starts).toBe(1);
  });
});
