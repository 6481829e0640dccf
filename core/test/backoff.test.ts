import { describe, expect, it } from 'vitest';
import {
  BACKOFF,
  backoffDelay,
  HEALTHY_WATCH_MS,
  RETRY_AFTER_MAX_MS,
  reconnect,
  watchTimeoutSeconds,
} from '../src/backoff.js';

describe('backoff', () => {
  it.each([1, 2, 3, 5, 10, 50])(
    'draws from the whole window [0, min(cap, base·2^(n-1))] at attempt %d',
    (attempt) => {
      const window = Math.min(BACKOFF.capMs, BACKOFF.baseMs * 2 ** (attempt - 1));
      expect(backoffDelay(attempt, () => 0)).toBe(0);
      expect(backoffDelay(attempt, () => 0.5)).toBe(window / 2);
      expect(backoffDelay(attempt, () => 1)).toBe(window);
    },
  );

  it('doubles its window from 800 ms and never exceeds 30 s', () => {
    const windows = [1, 2, 3, 4, 5, 6, 7, 100].map((n) => backoffDelay(n, () => 1));
    expect(windows).toEqual([800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000]);
  });

  it("waits at least what the server's Retry-After asks, within a bound", () => {
    expect(backoffDelay(1, () => 0, 5_000)).toBe(5_000);
    expect(backoffDelay(10, () => 1, 5_000)).toBe(30_000);
    expect(backoffDelay(1, () => 0, 24 * 3_600_000)).toBe(RETRY_AFTER_MAX_MS);
  });
});

describe('watch timeouts', () => {
  it('spread each watch between 5 and 10 minutes, as client-go does', () => {
    expect(watchTimeoutSeconds(() => 0)).toBe(300);
    expect(watchTimeoutSeconds(() => 0.999)).toBe(599);
  });
});

describe('reconnecting', () => {
  const random = () => 1;
  const healthy = { openMs: HEALTHY_WATCH_MS, cleanClose: true, expired: false };
  const refused = { openMs: 0, cleanClose: false, expired: false };

  it('resumes at once after the server ends a healthy stream at its timeout', () => {
    expect(reconnect(4, healthy, random)).toEqual({ failures: 0, delayMs: 0 });
  });

  it('backs off, with growing windows, from a server that accepts every watch and closes it at once', () => {
    let failures = 0;
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const step = reconnect(failures, { openMs: 5, cleanClose: true, expired: false }, random);
      failures = step.failures;
      delays.push(step.delayMs);
    }
    expect(delays).toEqual([800, 1_600, 3_200, 6_400, 12_800, 25_600]);
  });

  it('is not reset by a connection merely opening: 1,000 failed watches sleep over 4 hours in all (mean 15 s each at the cap)', () => {
    let failures = 0;
    let slept = 0;
    for (let i = 0; i < 1_000; i++) {
      const step = reconnect(failures, { openMs: 10, cleanClose: false, expired: false }, () => 0.5);
      failures = step.failures;
      slept += step.delayMs;
    }
    expect(slept).toBeGreaterThan(4 * 3_600_000);
  });

  it('reads again at once on the first 410, and backs off when it repeats', () => {
    const gone = { openMs: 3, cleanClose: false, expired: true };
    const first = reconnect(0, gone, random);
    expect(first).toEqual({ failures: 1, delayMs: 0 });
    expect(reconnect(first.failures, gone, random)).toEqual({ failures: 2, delayMs: 1_600 });
  });

  it('honours Retry-After on a refused watch', () => {
    expect(reconnect(0, { ...refused, retryAfterMs: 9_000 }, () => 0).delayMs).toBe(9_000);
  });

  it('restarts the count after a healthy stream that dropped', () => {
    expect(reconnect(6, { openMs: HEALTHY_WATCH_MS * 2, cleanClose: false, expired: false }, random)).toEqual(
      {
        failures: 1,
        delayMs: 800,
      },
    );
  });
});
