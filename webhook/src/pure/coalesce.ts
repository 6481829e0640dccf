/**
 * Runs an async pass one at a time, without losing a request: a call while a pass is under way gets one more pass
 * after it (shared by every call meanwhile), because the running pass may have read its input before the change
 * that prompted the call. The reconciler's passes run this way.
 */
export function coalesced<T>(pass: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const run = (): Promise<T> => {
    if (!running) {
      running = pass().finally(() => {
        running = undefined;
      });
      return running;
    }
    next ??= running
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        return run();
      });
    return next;
  };
  return run;
}
