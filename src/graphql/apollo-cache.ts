/**
 * Apollo Server's `cache` on a named Redis connection: a `KeyvAdapter` over a Keyv whose store is
 * `RedisKeyvStore`. Apollo uses it for automatic persisted queries (`apq:` keys) and the response
 * cache plugin (`fqc:` keys), so every instance of an app shares them.
 *
 *   // config/plugins.ts (loads before any connection exists: the connection is resolved on first use)
 *   graphql: { config: { apolloServer: { cache: createApolloCache({ connection: 'cache' }) } } }
 *
 * Failure policy: fail open. A Redis error, a timeout or a connection that is not ready makes a
 * read a miss and a write a no-op; Apollo answers every request. One warning per outage.
 */
import { KeyvAdapter } from '@apollo/utils.keyvadapter';
import { Keyv, type Deserialize, type Serialize } from 'keyv';
import { describeValue } from '../core/redact.js';
import { str } from '../core/schema.js';
import { keyvStoreShape, RedisKeyvStore, type RedisKeyvStoreOptions, type StoreCounters } from './keyv-store.js';
import { parseTargetOptions, targetOptions } from './target.js';

/** The namespace of Apollo's keys when none is given: `apollo:fqc:<hash>`, `apollo:apq:<hash>`. */
export const DEFAULT_APOLLO_NAMESPACE = 'apollo';

/**
 * The Apollo cache's options: the Keyv store's, where `namespace` defaults to `'apollo'` (keys are
 * stored as `<namespace>:<Apollo's key>`, e.g. `apollo:fqc:<hash>`; instances that should share
 * cached responses use the same namespace) and `maxTtl` bounds every entry (Apollo's TTLs are in
 * seconds and become `PX` in ms; entries Apollo writes without a TTL, persisted queries by
 * default, live this long).
 */
export type ApolloCacheOptions = RedisKeyvStoreOptions;

export const apolloCacheShape = {
  ...keyvStoreShape,
  /** Keys are stored as `<namespace>:<Apollo's key>`, e.g. `apollo:fqc:<hash>`. */
  namespace: str('a string; keys are stored as <namespace>:<key>').default(DEFAULT_APOLLO_NAMESPACE),
};

/** The schema of `createApolloCache()` options. */
export const apolloCacheSchema = targetOptions(apolloCacheShape);

/**
 * Values are stored as Apollo gives them (its response cache and persisted queries write strings)
 * rather than in Keyv's JSON envelope: no second encoding on each hit, the stored value is
 * Apollo's own JSON, and expiry is Redis' (`PX`), so the envelope's `expires` is not needed.
 */
const serialize = ((data: { value?: unknown }) => {
  if (typeof data.value !== 'string') {
    throw new TypeError(`The Apollo cache stores strings; got ${describeValue(data.value)}.`);
  }
  return data.value;
}) as Serialize;
const deserialize = ((text: string) => ({ value: text })) as Deserialize;

/**
 * A `KeyValueCache<string>` for Apollo Server 4 (`new ApolloServer({ cache })`, or Strapi's
 * `graphql.config.apolloServer.cache`). Reads never throw (an error is a miss) and writes never
 * reject.
 */
export class RedisApolloCache extends KeyvAdapter<string> {
  /** The Keyv store underneath (bounded, Cluster-safe commands on the named connection). */
  readonly store: RedisKeyvStore;

  constructor(options: ApolloCacheOptions = {}) {
    const { namespace } = parseTargetOptions(apolloCacheSchema, options, 'createApolloCache()');
    const store = new RedisKeyvStore(
      { ...options, namespace },
      {
        where: 'createApolloCache()',
        what: (target) => `Apollo cache (${target})`,
        meanwhile: 'cache reads are misses and writes are skipped (GraphQL requests are still answered)',
      },
    );
    // The store prefixes keys with the namespace; Keyv must not prefix them again.
    super(new Keyv<string>({ store, namespace: store.opts.namespace, useKeyPrefix: false, serialize, deserialize }));
    this.store = store;
  }

  /** Hits, misses, read and write errors of this cache, counted in process. */
  get counters(): Readonly<StoreCounters> {
    return this.store.counters;
  }

  /** Apollo's key → the value, or `undefined` on a miss, an error or a timeout. Reads in the same tick share one round trip. */
  override async get(key: string): Promise<string | undefined> {
    try {
      return await super.get(key);
    } catch {
      return undefined; // counted and logged (once per outage) by the store
    }
  }

  /** `options.ttl` is Apollo's, in seconds (KeyvAdapter makes them Keyv's ms; see `maxTtl`). Never rejects. */
  override async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    try {
      await super.set(key, value, options);
    } catch {
      // Keyv already reports store errors as `false`; this catches anything else (a non-string value).
    }
  }

  /** Never rejects; `false` when Redis failed. */
  override async delete(key: string): Promise<boolean> {
    try {
      return await super.delete(key);
    } catch {
      return false;
    }
  }
}

/**
 * Create Apollo Server's cache on a named Redis connection. Use it in Strapi's
 * `config/plugins.ts` (`graphql.config.apolloServer.cache`) or in `new ApolloServer({ cache })`.
 */
export function createApolloCache(options: ApolloCacheOptions = {}): RedisApolloCache {
  return new RedisApolloCache(options);
}
