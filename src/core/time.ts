/** Small timing helpers. Milliseconds everywhere. */

/**
 * Settle with `promise`, or reject with `onTimeout()` after `ms`. The original promise keeps a
 * rejection handler, so a late failure never becomes an unhandled rejection.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const now = (): number => performance.now();
