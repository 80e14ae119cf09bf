/**
 * The response cache's options come from one schema like every option set of the suite (issue #19):
 * invalid options throw one CacheConfigError, a RedisSuiteConfigError with a stable code, `where`
 * and every problem in `issues` (path, value with secrets masked, what is expected, a "did you
 * mean" for an unknown key). No Redis: the factory checks its options before any command.
 */
import { describe, expect, it } from 'vitest';
import { RedisSuiteConfigError } from '../../src/core/errors.js';
import { CacheConfigError, createStrapiCache, responseCache, type StrapiCacheHost } from '../../src/middlewares/cache/index.js';
import { captureLogger } from '../helpers/logger.js';

const caught = (run: () => unknown): CacheConfigError => {
  try {
    run();
  } catch (err) {
    return err as CacheConfigError;
  }
  throw new Error('no error thrown');
};

describe('CacheConfigError', () => {
  it('is a RedisSuiteConfigError listing every problem of responseCache() options at once', () => {
    const err = caught(() =>
      responseCache({
        client: {} as never,
        maxAg: 1,
        prefix: '',
        routes: ['items', { path: '/x', maxAge: 1.5 }],
        cdn: { ttl: 1 },
        purgeWebhook: { urls: ['https://cdn.example/purge?token=s3cret-token'], headers: { authorization: 'Bearer very-secret' }, retries: -1 },
      } as never),
    );
    expect(err).toBeInstanceOf(CacheConfigError);
    expect(err).toBeInstanceOf(RedisSuiteConfigError);
    expect(err.name).toBe('CacheConfigError');
    expect(err.code).toBe('REDIS_SUITE_CACHE_CONFIG');
    expect(err.where).toBe('options of responseCache()');
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'options.cdn.ttl',
      'options.maxAg',
      'options.prefix',
      'options.purgeWebhook.retries',
      'options.routes[0].path',
      'options.routes[1].maxAge',
    ]);
    expect(err.message).toMatch(/^Invalid options of responseCache\(\) \(6 problems\):\n {2}- /);
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i]));
    expect(byPath['options.maxAg']!.expected).toMatch(/^no such option \(did you mean "maxAge"\?\); known options: connection, registry, client, /);
    expect(byPath['options.routes[1].maxAge']).toEqual({ path: 'options.routes[1].maxAge', got: '1.5', expected: 'an integer number of milliseconds >= 1' });
    expect(byPath['options.prefix']).toMatchObject({ got: '""', expected: "a non-empty string like 'cache:'" });
    expect(err.message).not.toMatch(/s3cret|very-secret/);
  });

  it('masks purgeWebhook header values and URLs in the value it shows', () => {
    const err = caught(() =>
      responseCache({ client: {} as never, purgeWebhook: { urls: ['ftp://u:secretpw@x/', 'https://ok.example/'], headers: { authorization: 42 } } } as never),
    );
    expect(err.issues).toEqual([
      { path: 'options.purgeWebhook.urls[0]', got: '"***"', expected: "an http(s) URL like 'https://cdn.example/purge'" },
      { path: 'options.purgeWebhook.headers', got: '{"authorization":"***"}', expected: 'an object of header names to string values' },
    ]);
    expect(err.message).not.toMatch(/secretpw/);
  });

  it('the Strapi factory reports a bad option and an unknown connection in one error', () => {
    const strapi = {
      log: captureLogger(),
      config: { get: (_path: string, d?: unknown) => d },
      contentTypes: { 'api::article.article': { kind: 'collectionType', info: { singularName: 'article', pluralName: 'articles' } } },
      plugin: () => ({
        service: () => ({
          get: (n: string) => {
            throw new Error(`unknown connection "${n}"; known: default`);
          },
        }),
      }),
    } as unknown as StrapiCacheHost;
    const err = caught(() => createStrapiCache({ connection: 'nope', contentTypes: ['api::artcle.artcle'], maxAge: 0 }, { strapi }));
    expect(err).toBeInstanceOf(RedisSuiteConfigError);
    expect(err.where).toBe('config of plugin::redis.cache');
    expect(err.issues).toEqual([
      { path: 'config.maxAge', got: '0', expected: 'an integer number of milliseconds >= 1' },
      { path: 'config.contentTypes[0].contentType', got: '"api::artcle.artcle"', expected: 'a content type UID of this app (api::article.article)' },
      { path: 'config.connection', got: '"nope"', expected: 'unknown connection "nope"; known: default' },
    ]);
  });
});
