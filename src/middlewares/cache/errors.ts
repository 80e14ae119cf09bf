/** Errors of the response cache. */
import { RedisSuiteConfigError } from '../../core/errors.js';

/**
 * Invalid options of `responseCache()` or `plugin::redis.cache` (thrown by the factory; in Strapi
 * at boot), an unknown content type or connection among them: every problem in one error, each
 * with its path (`options.maxAge`, `config.contentTypes[0].contentType`), the value (secrets and
 * `purgeWebhook` headers and URLs masked) and what is expected.
 */
export class CacheConfigError extends RedisSuiteConfigError {
  override readonly name: string = 'CacheConfigError';
  override readonly code: string = 'REDIS_SUITE_CACHE_CONFIG';
}
