/** Small timing helpers. Milliseconds everywhere. */

/**
 * Settle with `promise`, or reject with `onTimeout()` after `ms`. The original promise keeps a
 * rejection handler, so a late failure never becomes an unhandled rejection.
 *
 * The bound is decided after the event loop's I/O phase: when the loop was busy past `ms` (a
 * saturated process), Node runs expired timers before it reads sockets, so a plain timer would
 * fail a command whose reply had already arrived (and the caller's fallback, e.g. running the
 * handler on a cache miss, would load the process further). The timer therefore rejects from the
 * check phase (`setImmediate`), after the replies that arrived in time were read and settled.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => setImmediate(() => reject(onTimeout())), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export const now = (): number => performance.now();
