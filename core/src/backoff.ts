/**
 * How long to wait before the next request after failures: exponential backoff over client-go's reflector's
 * windows (800 ms doubling to 30 s), reset only by a connection that proved healthy, and the server's
 * `Retry-After` honoured. The jitter is full (a uniform draw in [0, window)), where client-go's backoff manager
 * uses jitter 1.0 (a draw in [window, 2 × window)): a thousand sidecars that lose the API server at the same
 * instant come back spread over the whole window instead of in step (docs/architecture.md, "Decisions, and why").
 * `random` is injected so tests can pin it.
 */
export interface BackoffOptions {
  /** The first window (client-go: 800 ms). */
  readonly baseMs: number;
  /** The largest window (client-go: 30 s). */
  readonly capMs: number;
}

export const BACKOFF: BackoffOptions = Object.freeze({ baseMs: 800, capMs: 30_000 });

/** The longest `Retry-After` obeyed; a larger one (or a bogus date) is clamped to it. */
export const RETRY_AFTER_MAX_MS = 5 * 60_000;

/**
 * Delay before retry `attempt` (1-based): a uniformly random share of min(cap, base * 2^(attempt-1)) ("full
 * jitter"), and never less than what the server asked for with `Retry-After`.
 */
export function backoffDelay(
  attempt: number,
  random: () => number,
  retryAfterMs: number | undefined = undefined,
  options: BackoffOptions = BACKOFF,
): number {
  const window = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = random() * window;
  return retryAfterMs === undefined
    ? jittered
    : Math.max(jittered, Math.min(retryAfterMs, RETRY_AFTER_MAX_MS));
}

/**
 * The server's timeout for one watch request, drawn between `minSeconds` and twice it (client-go: 5–10 min), so
 * that a fleet of sidecars started together does not reconnect together forever after.
 */
export function watchTimeoutSeconds(random: () => number, minSeconds = 300): number {
  return Math.floor(minSeconds * (1 + random()));
}

/** How a watch request ended, as far as the reconnect decision cares. */
export interface WatchOutcome {
  /** How long the stream was open (0 when the server never accepted it). */
  readonly openMs: number;
  /** The server ended the stream cleanly (its timeout), rather than failing or dropping it. */
  readonly cleanClose: boolean;
  /** The resourceVersion was too old (410 Gone): read the node again before watching. */
  readonly expired: boolean;
  /** `Retry-After` of a refusal, when the server sent one. */
  readonly retryAfterMs?: number;
}

/**
 * A watch that stayed open this long proves the path to the API server healthy and resets the backoff (client-go's
 * backoff manager resets after 2 minutes of clean running).
 */
export const HEALTHY_WATCH_MS = 120_000;

/**
 * The reconnect decision: consecutive unhealthy watches (`failures`) and the delay before the next request.
 * A clean close after a healthy stream resumes at once; the first 410 after a healthy stream re-reads at once;
 * everything else — a refusal, a drop, a stream the server opened and closed straight away, a second 410 in a
 * row — backs off. Opening a connection alone never resets the count (a server that accepts and fails every
 * watch would otherwise be hammered).
 */
export function reconnect(
  failures: number,
  outcome: WatchOutcome,
  random: () => number,
): { readonly failures: number; readonly delayMs: number } {
  if (outcome.openMs >= HEALTHY_WATCH_MS) {
    if (outcome.cleanClose || outcome.expired) return { failures: 0, delayMs: 0 };
    return { failures: 1, delayMs: backoffDelay(1, random, outcome.retryAfterMs) };
  }
  const next = failures + 1;
  if (outcome.expired && next === 1) return { failures: next, delayMs: 0 };
  return { failures: next, delayMs: backoffDelay(next, random, outcome.retryAfterMs) };
}
