/**
 * The response cache's Redis layout and commands.
 *
 * - Entry `<prefix>e:<key>`: ONE string holding a one-line JSON header (status, headers, ETag,
 *   stored-at, TTL) then `\n` then the raw body bytes, written with `SET ... PX <ms>`. A hit is one GET.
 * - Tag set `<prefix>t:<tag>`: the entry keys tagged with it (one per content type, or a rule's
 *   own tags). Joined with one single-key script (SADD, then PEXPIRE so the set lives at least as
 *   long as the entry). Purge: SMEMBERS, one UNLINK per key, SREM of those members. No KEYS/SCAN,
 *   no multi-key command: every command touches one key, so it is Cluster-safe.
 * - Generation `<prefix>g:<tag>`: INCR on every purge. A miss reads it before the handler runs
 *   and again after storing; when it moved, a purge ran meanwhile and the entry just written may
 *   hold pre-write data, so it is removed (no stale re-fill after a purge).
 *
 * Failure policy: fail open. Every command is bounded; a failed or slow read is a miss, a failed
 * write is skipped. One warning per outage, one info line when it answers again.
 *
 * Reads are bounded by `readTimeout`, decided after the event loop's I/O phase (core
 * `withTimeout`): a reply that arrived in time is a hit even when a saturated process reads it late.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../core/client.js';
import type { SuiteLog } from '../../core/logger.js';
import { OutageLog } from '../../core/outage.js';
import type { BoundedConnection } from '../../core/resolve.js';
import { defineScript } from '../../core/script.js';
import TAG_LUA from './lua/cache-tag.lua';
import UNLOCK_LUA from './lua/cache-unlock.lua';

/** What a stored response holds besides its body. */
export interface EntryMeta {
  /** Format version. */
  v: 1;
  /** HTTP status. */
  s: number;
  /** Response headers kept (lower-case names). */
  h: Record<string, string>;
  /** The ETag. */
  e: string;
  /** Stored at, ms since the epoch. */
  t: number;
}

export interface CachedResponse {
  meta: EntryMeta;
  body: Buffer;
}

const NL = 0x0a;

/** Encode an entry as one value: `<JSON header>\n<body bytes>` (JSON never holds a raw newline). */
export function encodeEntry(meta: EntryMeta, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${JSON.stringify(meta)}\n`, 'utf8'), body]);
}

/** Decode what `encodeEntry` wrote; null for anything else (treated as a miss). */
export function decodeEntry(raw: Buffer): CachedResponse | null {
  const nl = raw.indexOf(NL);
  if (nl < 0) return null;
  try {
    const meta = JSON.parse(raw.subarray(0, nl).toString('utf8')) as EntryMeta;
    if (meta?.v !== 1 || typeof meta.s !== 'number' || typeof meta.e !== 'string' || typeof meta.h !== 'object') return null;
    return { meta, body: raw.subarray(nl + 1) };
  } catch {
    return null;
  }
}

/** Add an entry key to a tag set and keep the set alive at least as long as the entry (returns the set's PTTL). */
const tagScript = defineScript<[member: string, ttlMs: number], number>('cache-tag', TAG_LUA, 1);
/** Release a fill lock only when it still holds our token (1 released, 0 not ours). */
const unlockScript = defineScript<[token: string], number>('cache-unlock', UNLOCK_LUA, 1);

/** How concurrent misses of one key are coalesced (resolved options). */
export interface CoalesceSettings {
  /** Fill lock TTL, ms. */
  lockTTL: number;
  /** Longest a waiter polls before it runs the handler itself, ms. */
  maxWait: number;
  /** Poll interval, ms. */
  pollInterval: number;
}

/** In-process counters of one cache middleware. */
export interface CacheCounters {
  hits: number;
  misses: number;
  bypasses: number;
  stores: number;
  /** Entries written then removed because a purge ran while the response was built. */
  discarded: number;
  /** Misses answered by another request's fill (coalescing), counted in `hits` too. */
  coalesced: number;
  purges: number;
  purgedKeys: number;
  errors: number;
}

/** How many UNLINK/SREM commands a purge keeps in flight. */
const PURGE_BATCH = 200;

export class CacheStore {
  readonly prefix: string;
  readonly counters: CacheCounters = { hits: 0, misses: 0, bypasses: 0, stores: 0, discarded: 0, coalesced: 0, purges: 0, purgedKeys: 0, errors: 0 };
  readonly #conn: () => BoundedConnection;
  readonly #readTimeout: number;
  readonly #writeTimeout: number | undefined;
  readonly #outage: OutageLog;
  /** Reads of one entry waiting for this loop turn's GET (see read()). */
  readonly #batched = new Map<string, Promise<CachedResponse | null | undefined>>();

  constructor(options: { prefix: string; connection: () => BoundedConnection; log: () => SuiteLog; readTimeout: number; writeTimeout?: number | undefined; name?: string }) {
    this.prefix = options.prefix;
    this.#conn = options.connection;
    this.#outage = new OutageLog(
      options.log,
      `response cache (connection "${options.name ?? 'default'}", prefix "${options.prefix}")`,
      `requests are served uncached (reads slower than readTimeout, ${options.readTimeout} ms, are misses too)`,
    );
    this.#readTimeout = options.readTimeout;
    this.#writeTimeout = options.writeTimeout;
  }

  entryKey(key: string): string {
    return `${this.prefix}e:${key}`;
  }
  tagKey(tag: string): string {
    return `${this.prefix}t:${tag}`;
  }
  genKey(tag: string): string {
    return `${this.prefix}g:${tag}`;
  }
  lockKey(entryKey: string): string {
    return `${this.prefix}l:${entryKey.slice(this.prefix.length + 2)}`;
  }

  /** Try to become the filler of an entry: a token when taken, null when another request holds it, undefined when Redis failed. */
  async lock(entryKey: string, ttlMs: number): Promise<string | null | undefined> {
    const token = randomUUID();
    const ok = await this.#run((c) => c.set(this.lockKey(entryKey), token, 'PX', ttlMs, 'NX'), this.#writeTimeout);
    if (ok === undefined) return undefined;
    return ok === 'OK' ? token : null;
  }

  async unlock(entryKey: string, token: string): Promise<void> {
    await this.#run((c) => unlockScript.run(c, [this.lockKey(entryKey)], token), this.#writeTimeout);
  }

  /**
   * Wait for another request to fill an entry: poll the entry (and the lock) every `pollInterval`,
   * at most `maxWait`. Resolves with the entry, or null when the filler gave up (its lock is gone
   * with no entry: the response was not cacheable, or it failed), the bound passed, or Redis failed.
   */
  async waitForFill(entryKey: string, settings: CoalesceSettings): Promise<CachedResponse | null> {
    const deadline = Date.now() + settings.maxWait;
    const lockKey = this.lockKey(entryKey);
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(settings.pollInterval, Math.max(1, deadline - Date.now()))));
      const polled = await this.#read((c) => Promise.all([c.getBuffer(entryKey), c.exists(lockKey)]));
      if (polled === undefined) return null;
      const [raw, locked] = polled;
      if (raw) return decodeEntry(raw);
      if (locked === 0) return null;
    }
    return null;
  }

  /**
   * One GET, bounded by `readTimeout`. `undefined` = Redis failed (a miss), `null` = not cached.
   *
   * Reads of the same entry that arrive in one turn of the event loop share one GET, sent in that
   * turn's check phase (`setImmediate`), after every read that joined it arrived: each still sees
   * Redis as of a moment after it asked (a purge that finished before a read started is never
   * missed), while a burst of requests for a hot entry costs one command, not one per request.
   */
  read(entryKey: string): Promise<CachedResponse | null | undefined> {
    const pending = this.#batched.get(entryKey);
    if (pending) return pending;
    const read = new Promise<CachedResponse | null | undefined>((resolve) => {
      setImmediate(() => {
        this.#batched.delete(entryKey);
        this.#read((c) => c.getBuffer(entryKey)).then((raw) => resolve(raw === undefined ? undefined : raw === null ? null : decodeEntry(raw)));
      });
    });
    this.#batched.set(entryKey, read);
    return read;
  }

  /** The current generation of each tag (joined), or undefined when Redis failed. */
  async generations(tags: readonly string[]): Promise<string | undefined> {
    if (tags.length === 0) return '';
    const gens = await this.#read((c) => Promise.all(tags.map((t) => c.get(this.genKey(t)))));
    return gens === undefined ? undefined : gens.map((g) => g ?? '0').join(',');
  }

  /**
   * Store an entry and tag it; then, when a purge of one of its tags ran since `generation` was
   * read (before the response was built), remove it again. Resolves when Redis has answered.
   */
  async write(entryKey: string, value: Buffer, ttlMs: number, tags: readonly string[], generation: string): Promise<boolean> {
    const stored = await this.#run(async (c) => {
      await Promise.all([c.set(entryKey, value, 'PX', ttlMs), ...tags.map((t) => tagScript.run(c, [this.tagKey(t)], entryKey, ttlMs))]);
      return true;
    }, this.#writeTimeout);
    if (!stored) return false;
    const after = await this.generations(tags);
    if (after === generation) {
      this.counters.stores++;
      return true;
    }
    // A purge ran meanwhile (or the check failed): the body may predate the write that caused it.
    this.counters.discarded++;
    await this.#run((c) => c.unlink(entryKey), this.#writeTimeout);
    return false;
  }

  /**
   * Remove every entry tagged `tag`: INCR its generation (so responses being built now are not
   * stored), SMEMBERS, one UNLINK per key, SREM of the members removed. Returns the number of
   * keys. Throws when Redis fails (the caller decides: log it, or report it).
   */
  async purge(tag: string): Promise<number> {
    const conn = this.#conn();
    const t = this.#writeTimeout;
    const tagKey = this.tagKey(tag);
    await conn.run((c) => c.incr(this.genKey(tag)), t);
    const members = await conn.run((c) => c.smembers(tagKey), t);
    for (let i = 0; i < members.length; i += PURGE_BATCH) {
      const batch = members.slice(i, i + PURGE_BATCH);
      await Promise.all(batch.map((k) => conn.run((c) => c.unlink(k), t)));
      await conn.run((c) => c.srem(tagKey, ...batch), t);
    }
    this.counters.purges++;
    this.counters.purgedKeys += members.length;
    return members.length;
  }

  /** How many entry keys tag `tag` holds (SCARD of its tag set; entries that expired since may be counted). Throws when Redis fails. */
  async tagSize(tag: string): Promise<number> {
    return this.#conn().run((c) => c.scard(this.tagKey(tag)), this.#writeTimeout);
  }

  /** A read bounded by `readTimeout` (core `withTimeout`: decided after the loop's I/O phase); failures and timeouts resolve to undefined. */
  #read<T>(command: (client: RedisClient) => Promise<T>): Promise<T | undefined> {
    return this.#run(command, this.#readTimeout);
  }

  /** A bounded command; failures and timeouts resolve to undefined (logged once per outage). */
  async #run<T>(command: (client: RedisClient) => Promise<T>, timeoutMs: number | undefined): Promise<T | undefined> {
    let result: T;
    try {
      result = await this.#conn().run(command, timeoutMs);
    } catch (err) {
      this.counters.errors++;
      this.#outage.failed(err);
      return undefined;
    }
    this.#outage.ok();
    return result;
  }
}
