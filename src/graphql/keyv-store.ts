/**
 * A Keyv 5 storage adapter on a named ioredis connection (or a registry's, or a raw client).
 *
 * - Every command is bounded (`RedisConnection.run()`): it fails at once while the connection is
 *   not ready and after the timeout, instead of waiting in ioredis' offline queue.
 * - Cluster-safe: no command touches two keys of different slots. Batched reads (merged over one
 *   turn of the event loop) are one `MGET` on standalone/Sentinel and one `GET` per key, sent
 *   together, on Cluster (keys of a batch hash to different slots almost always, so grouping by
 *   slot would save nothing). Batched deletes and existence checks likewise (one command or a
 *   pipeline, or one command per key); Keyv's `setMany()` sends one `SET` per key.
 * - Expiry in milliseconds with `PX`, capped by `maxTtl`: no key lives forever.
 * - Keys are `<namespace>:<key>`, prefixed here, once. The store ignores the `namespace` Keyv
 *   writes into it for key building (Keyv prefixes keys itself unless `useKeyPrefix: false`), so
 *   no combination of the two prefixes a key twice; `createKeyv` turns Keyv's prefixing off.
 * - One warning per outage (and one info line when Redis answers again), not one per command.
 *
 * The connection belongs to the registry (or to you, for a raw client): `disconnect()` leaves it open.
 *
 * Longer than 350 lines: Keyv's adapter contract (get, getMany, set, delete, clear, has) with its
 * batching and outage handling on one store.
 */
import { EventEmitter } from 'node:events';
import type { Cluster, Redis } from 'ioredis';
import { Keyv, type KeyvOptions, type KeyvStoreAdapter, type StoredData } from 'keyv';
import type { RedisClient } from '../core/client.js';
import type { RedisConnection } from '../core/connection.js';
import { describeValue } from '../core/redact.js';
import { OutageLog } from '../core/outage.js';
import { int, str, z } from '../core/schema.js';
import { LazyRedis, parseTargetOptions, targetOptions, type BoundRedis, type targetShape } from './target.js';
import { DEFAULT_MAX_TTL_MS, expiryMs } from './ttl.js';

export const keyvStoreShape = {
  /**
   * Keys are stored as `<namespace>:<key>`. Keep namespaces of different uses apart; an empty
   * namespace stores keys as given. Default: none.
   */
  namespace: str('a string; keys are stored as <namespace>:<key>').optional(),
  /**
   * The longest any key may live, in ms. Writes without a TTL (Keyv `ttl` unset or `0`) get this
   * expiry and longer TTLs are capped to it. Default 86400000 (24 h).
   */
  maxTtl: int(1, Number.MAX_SAFE_INTEGER, 'a positive integer number of milliseconds (e.g. 86400000 for 24 h)').default(DEFAULT_MAX_TTL_MS),
};

/** The schema of `createKeyvStore()` options. */
export const keyvStoreSchema = targetOptions(keyvStoreShape);

export type RedisKeyvStoreOptions = z.input<z.ZodObject<typeof targetShape & typeof keyvStoreShape>>;

/** How the store names itself in log lines and what it says happens while Redis fails. */
export interface StoreLogText {
  where: string;
  what: (target: string) => string;
  meanwhile: string;
}

const GENERIC_LOG_TEXT: StoreLogText = {
  where: 'createKeyvStore()',
  what: (target) => `Keyv store (${target})`,
  meanwhile: 'its operations fail (Keyv returns undefined for reads and false for writes)',
};

type Command<T> = (client: RedisClient) => Promise<T>;

/** Keys of one merged read (full key → its position in the reply) and who waits for them. */
interface ReadBatch {
  keys: Map<string, number>;
  waiters: Array<{ slots: number[]; resolve(values: unknown[]): void; reject(err: unknown): void }>;
}

/** Most distinct keys in one merged read; more start another batch. */
const MAX_BATCH_KEYS = 1000;

/** Cheap in-process counters of one store (per key, not per command). */
export interface StoreCounters {
  /** Keys read that Redis had. */
  hits: number;
  /** Keys read that Redis did not have, or whose read failed or timed out. */
  misses: number;
  /** Of the misses: keys whose read failed or timed out. */
  readErrors: number;
  /** Keys Redis acknowledged a write (or, for a negative TTL, a removal) of. */
  writes: number;
  /** Keys whose write failed or timed out. */
  writeErrors: number;
}

export class RedisKeyvStore extends EventEmitter implements KeyvStoreAdapter {
  /** What the store was built with (Keyv reads `opts`); `maxTtl` resolved. */
  readonly opts: Readonly<{ dialect: 'redis'; namespace: string | undefined; maxTtl: number; requestTimeout: number | undefined }>;
  /** Written by Keyv (its own namespace). Used only by `clear()` when the store has no namespace of its own. */
  namespace?: string | undefined;
  readonly #prefix: string;
  readonly #maxTtl: number;
  readonly #redis: LazyRedis;
  readonly #outage: OutageLog;
  readonly #counters: StoreCounters = { hits: 0, misses: 0, readErrors: 0, writes: 0, writeErrors: 0 };
  /** Reads waiting for this turn of the event loop's `MGET`. */
  #batch: ReadBatch | undefined;

  constructor(options: RedisKeyvStoreOptions = {}, text: StoreLogText = GENERIC_LOG_TEXT) {
    super();
    const parsed = parseTargetOptions(keyvStoreSchema, options, text.where);
    const namespace = parsed.namespace || undefined;
    this.#prefix = namespace ? `${namespace}:` : '';
    this.#maxTtl = parsed.maxTtl;
    this.opts = Object.freeze({ dialect: 'redis', namespace, maxTtl: this.#maxTtl, requestTimeout: options.requestTimeout });
    const redis = new LazyRedis(options, text.where, 'cache', { feature: 'apollo', read: () => this.counters });
    this.#redis = redis;
    const target = `${options.client ? 'ioredis client' : `connection "${redis.connectionName}"`}${namespace ? `, namespace "${namespace}"` : ''}`;
    this.#outage = new OutageLog(() => redis.log, text.what(target), text.meanwhile);
  }

  /** The prefix put in front of every key (`<namespace>:`, or empty). */
  get keyPrefix(): string {
    return this.#prefix;
  }

  /** A snapshot of the counters. */
  get counters(): Readonly<StoreCounters> {
    return { ...this.#counters };
  }

  /** True after a failed command until one succeeds. */
  get failing(): boolean {
    return this.#outage.down;
  }

  #resolve(): BoundRedis {
    try {
      return this.#redis.resolve();
    } catch (err) {
      this.#outage.setupFailed(err);
      throw err;
    }
  }

  async #exec<T>(redis: BoundRedis, command: Command<T>): Promise<T> {
    let result: T;
    try {
      result = await redis.run(command);
    } catch (err) {
      this.#outage.failed(err);
      throw err;
    }
    this.#outage.ok();
    return result;
  }

  #read<T>(count: number, read: (redis: BoundRedis) => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = read(this.#resolve());
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.catch((err: unknown) => {
      this.#counters.readErrors += count;
      this.#counters.misses += count;
      throw err;
    });
  }

  async #write<T>(count: number, write: (redis: BoundRedis) => Promise<T>): Promise<T> {
    try {
      const result = await write(this.#resolve());
      this.#counters.writes += count;
      return result;
    } catch (err) {
      this.#counters.writeErrors += count;
      throw err;
    }
  }

  #count(value: unknown): void {
    if (value === null || value === undefined) this.#counters.misses++;
    else this.#counters.hits++;
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    const k = this.#prefix + key;
    const value = await this.#read(1, (redis) => this.#exec(redis, (client) => client.get(k)));
    this.#count(value);
    return (value ?? undefined) as StoredData<Value> | undefined;
  }

  /**
   * Batched reads. Reads requested during one turn of the event loop (KeyvAdapter batches a tick's
   * reads into one call; concurrent requests arrive in separate ticks) are merged, duplicates
   * removed, and sent at once (`setImmediate`, as ioredis' auto-pipelining and node-redis do):
   * one `MGET` on standalone/Sentinel; one `GET` per key, sent together, on Cluster, so never
   * CROSSSLOT. One bound (`requestTimeout`) covers the whole batch.
   */
  getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    if (keys.length === 0) return Promise.resolve([]);
    let batch = this.#batch;
    if (!batch || batch.keys.size + keys.length > MAX_BATCH_KEYS) {
      batch = { keys: new Map(), waiters: [] };
      this.#batch = batch;
      setImmediate(() => this.#flush(batch!));
    }
    const slots = keys.map((key) => {
      const full = this.#prefix + key;
      let slot = batch.keys.get(full);
      if (slot === undefined) {
        slot = batch.keys.size;
        batch.keys.set(full, slot);
      }
      return slot;
    });
    return new Promise<unknown[]>((resolve, reject) => batch.waiters.push({ slots, resolve, reject })) as Promise<Array<StoredData<Value | undefined>>>;
  }

  #flush(batch: ReadBatch): void {
    if (this.#batch === batch) this.#batch = undefined;
    const full = [...batch.keys.keys()];
    const count = batch.waiters.reduce((n, w) => n + w.slots.length, 0);
    this.#read(count, (redis) =>
      this.#exec(redis, redis.isCluster ? (client) => Promise.all(full.map((k) => client.get(k))) : (client) => client.mget(full)),
    ).then(
      (values) => {
        for (const w of batch.waiters) {
          w.resolve(
            w.slots.map((slot) => {
              const v = values[slot];
              this.#count(v);
              return v ?? undefined;
            }),
          );
        }
      },
      (err: unknown) => {
        for (const w of batch.waiters) w.reject(err);
      },
    );
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const k = this.#prefix + key;
    const px = expiryMs(ttl, this.#maxTtl);
    if (px === null) {
      // A negative TTL: the entry is already expired. Remove what was there rather than keep it.
      await this.#write(1, (redis) => this.#exec(redis, (client) => client.unlink(k)));
      return true;
    }
    const data = redisValue(value);
    await this.#write(1, (redis) => this.#exec(redis, (client) => client.set(k, data, 'PX', px)));
    return true;
  }

  async delete(key: string): Promise<boolean> {
    const k = this.#prefix + key;
    return (await this.#exec(this.#resolve(), (client) => client.unlink(k))) > 0;
  }

  /** True when at least one of the keys existed. One `UNLINK` on standalone/Sentinel, one per key on Cluster. */
  async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    const redis = this.#resolve();
    const full = keys.map((k) => this.#prefix + k);
    const removed = await this.#exec(
      redis,
      redis.isCluster
        ? async (client) => (await Promise.all(full.map((k) => client.unlink(k)))).reduce((a, b) => a + b, 0)
        : (client) => client.unlink(...full),
    );
    return removed > 0;
  }

  async has(key: string): Promise<boolean> {
    const k = this.#prefix + key;
    return (await this.#exec(this.#resolve(), (client) => client.exists(k))) === 1;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const redis = this.#resolve();
    const full = keys.map((k) => this.#prefix + k);
    const counts = await this.#exec(
      redis,
      redis.isCluster
        ? (client) => Promise.all(full.map((k) => client.exists(k)))
        : async (client) => {
            const pipeline = (client as Redis).pipeline();
            for (const k of full) pipeline.exists(k);
            return replies(await pipeline.exec()) as number[];
          },
    );
    return counts.map((n) => n === 1);
  }

  /**
   * Remove every key under this store's namespace (or, without one, under the namespace Keyv gave
   * it). Walks the keyspace with SCAN on every master: meant for maintenance, not for request paths.
   * Refuses to run with no namespace at all, which would empty the whole database.
   */
  async clear(): Promise<void> {
    const prefix = this.#prefix || (this.namespace ? `${this.namespace}:` : '');
    if (!prefix) {
      throw new Error(
        'RedisKeyvStore.clear(): this store has no namespace, so clearing it would delete every key of the database. ' +
          'Give the store (or Keyv) a namespace.',
      );
    }
    const redis = this.#resolve();
    const client = redis.client;
    const clientPrefix = (client.options as { keyPrefix?: string }).keyPrefix ?? '';
    const pattern = `${escapeGlob(clientPrefix + prefix)}*`;
    const nodes: Redis[] = redis.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await this.#exec(redis, () => node.scan(cursor, 'MATCH', pattern, 'COUNT', 500));
        cursor = next;
        // SCAN returns full key names; commands add ioredis' keyPrefix again, so strip it.
        const keys = found.map((k) => (clientPrefix && k.startsWith(clientPrefix) ? k.slice(clientPrefix.length) : k));
        if (keys.length === 0) continue;
        const unlink: Command<unknown> = redis.isCluster ? (c) => Promise.all(keys.map((k) => c.unlink(k))) : (c) => c.unlink(...keys);
        await this.#exec(redis, unlink);
      } while (cursor !== '0');
    }
  }

  /** The connection belongs to the registry (or to you): nothing to close here. */
  async disconnect(): Promise<void> {}
}

/** What Redis stores: Keyv hands the store its serialized string (or a Buffer). */
function redisValue(value: unknown): string | Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  throw new TypeError(
    `RedisKeyvStore.set(): got a ${describeValue(value)}; the store writes strings. Keyv serializes values before ` +
      'they reach the store: keep its default serialize, or make yours return a string.',
  );
}

/** The replies of a pipeline, or its first error. */
function replies(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('the pipeline was not executed');
  return results.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Create the store for your own `new Keyv({ store, useKeyPrefix: false })`. */
export function createKeyvStore(options: RedisKeyvStoreOptions = {}): RedisKeyvStore {
  return new RedisKeyvStore(options);
}

export const keyvShape = {
  ...keyvStoreShape,
  /** Default TTL of `set()` without one, in ms (Keyv's `ttl`); capped by `maxTtl`. Default: maxTtl. */
  ttl: int(1, Number.MAX_SAFE_INTEGER, 'a positive integer number of milliseconds').optional(),
  /** Other Keyv options (`serialize`, `deserialize`, `compression`, `stats`, `throwOnErrors`...). */
  keyv: z.custom<Omit<KeyvOptions, 'store' | 'namespace' | 'useKeyPrefix' | 'ttl'>>().optional(),
};

/** The schema of `createKeyv()` options (the store's, plus Keyv's own). */
export const keyvSchema = targetOptions(keyvShape);

export type RedisKeyvOptions = z.input<z.ZodObject<typeof targetShape & typeof keyvShape>>;

/** Options of the connections service's `keyv(name, options)`: the connection is the service's. */
export type ConnectionKeyvOptions = Omit<RedisKeyvOptions, 'connection' | 'registry' | 'client'>;

/**
 * `keyv(name, options)` for the connections service: a Keyv on the registry's connection `name`,
 * resolved on first use (the registry may not exist yet when it is called).
 */
export function keyvOnRegistry<Value = unknown>(
  registry: () => { get(name: string, where?: string): RedisConnection },
  connection: string,
  options: ConnectionKeyvOptions = {},
): Keyv<Value> {
  return createKeyv<Value>({ ...options, connection, registry: { get: (name, where) => registry().get(name, where) } });
}

/**
 * A Keyv on a named connection: `createKeyv({ connection: 'cache', namespace: 'app' })`. Keys are
 * `<namespace>:<key>` (prefixed once, by the store), values are Keyv's serialized JSON, expiry is
 * Redis' own (`PX`, capped by `maxTtl`). Usable by anything that takes a Keyv (cache-manager 6+,
 * cacheable).
 */
export function createKeyv<Value = unknown>(options: RedisKeyvOptions = {}): Keyv<Value> {
  parseTargetOptions(keyvSchema, options, 'createKeyv()');
  const { ttl, keyv, ...storeOptions } = options;
  const store = new RedisKeyvStore(storeOptions, { ...GENERIC_LOG_TEXT, where: 'createKeyv()' });
  // The store prefixes keys; Keyv must not prefix them again.
  return new Keyv<Value>({ ...keyv, store, namespace: store.opts.namespace, useKeyPrefix: false, ttl });
}
