/**
 * Type tests, checked by `tsc -p tests/tsconfig.json` (and run as no-ops by vitest): the factory's
 * result is what Apollo Server 4 takes as `cache`, the store is a Keyv storage adapter.
 */
import { ApolloServer, type ApolloServerOptions, type BaseContext } from '@apollo/server';
import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import { KeyvAdapter } from '@apollo/utils.keyvadapter';
import { Keyv, type KeyvStoreAdapter } from 'keyv';
import { describe, expectTypeOf, it } from 'vitest';
import { createApolloCache, createKeyv, createKeyvStore, RedisApolloCache, type ApolloCacheOptions, type RedisKeyvStore } from '../../src/graphql/index.js';

type ApolloCacheOption = NonNullable<ApolloServerOptions<BaseContext>['cache']>;

describe('types', () => {
  it("createApolloCache() is a KeyValueCache<string>, Apollo Server's cache option, and a KeyvAdapter", () => {
    expectTypeOf(createApolloCache).returns.toEqualTypeOf<RedisApolloCache>();
    expectTypeOf<RedisApolloCache>().toExtend<KeyValueCache<string>>();
    expectTypeOf<RedisApolloCache>().toExtend<KeyValueCache<string, KeyValueCacheSetOptions>>();
    expectTypeOf<RedisApolloCache>().toExtend<ApolloCacheOption>();
    expectTypeOf<RedisApolloCache>().toExtend<KeyvAdapter<string>>();
    // Apollo's TTL option: seconds, number or null
    expectTypeOf<RedisApolloCache['set']>().parameter(2).toEqualTypeOf<{ ttl?: number | null } | undefined>();
    expectTypeOf<RedisApolloCache['get']>().returns.toEqualTypeOf<Promise<string | undefined>>();
  });

  it('fits where users put it', () => {
    const build = () => {
      const cache: KeyValueCache<string> = createApolloCache({ connection: 'cache', namespace: 'app', maxTtl: 3_600_000 });
      new ApolloServer({ typeDefs: 'type Query { a: Int }', cache: createApolloCache({ connection: 'cache' }) });
      // Strapi: graphql.config.apolloServer is Apollo's options
      const apolloServer: Partial<ApolloServerOptions<BaseContext>> = { cache: createApolloCache() };
      return [cache, apolloServer];
    };
    expectTypeOf(build).toBeFunction();
  });

  it('options are checked', () => {
    expectTypeOf<ApolloCacheOptions>().toHaveProperty('maxTtl').toEqualTypeOf<number | undefined>();
    const bad = () => {
      // @ts-expect-error maxTtl is milliseconds as a number
      createApolloCache({ maxTtl: '1h' });
      // @ts-expect-error the connection is named by a string
      createApolloCache({ connection: 1 });
      // @ts-expect-error Apollo's cache stores strings
      createApolloCache().set('k', { not: 'a string' });
    };
    expectTypeOf(bad).toBeFunction();
  });

  it('the store is a Keyv storage adapter; createKeyv is a typed Keyv', () => {
    expectTypeOf<RedisKeyvStore>().toExtend<KeyvStoreAdapter>();
    expectTypeOf(createKeyvStore).returns.toEqualTypeOf<RedisKeyvStore>();
    expectTypeOf(createKeyv<{ id: number }>).returns.toEqualTypeOf<Keyv<{ id: number }>>();
    const usable = () => new Keyv<string>({ store: createKeyvStore({ connection: 'cache' }), useKeyPrefix: false });
    expectTypeOf(usable).returns.toEqualTypeOf<Keyv<string>>();
  });
});
