/** Errors of the rate limiter. */
import { RedisSuiteConfigError } from '../../core/errors.js';

/**
 * Invalid options for `plugin::redis.rateLimit`, `rateLimit()` or `RedisRateLimitStore`. Thrown by the
 * factory (in Strapi: at boot, when Strapi builds its middlewares) or by the store's constructor.
 */
export class RateLimitConfigError extends RedisSuiteConfigError {
  override readonly name: string = 'RateLimitConfigError';
  override readonly code: string = 'REDIS_SUITE_RATE_LIMIT_CONFIG';
}

/**
 * The store could not count a request and is configured to fail closed (`failOpen: false`).
 * `status` 503 makes Strapi's error middleware answer 503 Service Unavailable.
 */
export class RateLimitUnavailableError extends Error {
  override readonly name = 'RateLimitUnavailableError';
  readonly code = 'REDIS_SUITE_RATE_LIMIT_UNAVAILABLE';
  readonly status = 503;
  readonly expose = false;

  constructor(connection: string, options?: { cause?: unknown }) {
    const cause = options?.cause instanceof Error ? ` (${options.cause.message})` : '';
    super(
      `Rate limiting cannot reach Redis on connection "${connection}"${cause}; the request is refused because the store fails closed (failOpen: false). ` +
        `Set failOpen: true to let requests through unchecked while Redis is down.`,
      options,
    );
  }
}
