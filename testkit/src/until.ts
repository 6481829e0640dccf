/**
 * Polls `check` until it returns a value, or fails after `timeoutMs` naming `what` (a function, to say what was
 * last seen). The one polling loop of the harness, the suites and the benchmarks.
 */
export async function until<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 5,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
