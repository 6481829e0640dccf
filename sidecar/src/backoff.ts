/** Capped exponential backoff with jitter; `random` is injected so tests can pin it. */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
}

/**
 * Delay before retry `attempt` (1-based): half of min(cap, base * 2^(attempt-1)) plus a random share of the
 * other half ("equal jitter": never zero, so a flapping API server is not hammered, and spread out so that
 * thousands of sidecars do not reconnect in step).
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}
