/**
 * The response cache's Redis layout and commands. Key families (`<prefix>` is the `prefix` option,
 * `cache:` by default; `<key>` is built in key.ts; `<tag>` is `ct:<content type uid>`, a rule's own
 * tag, or `route:<path>`):
 *
 * - Entry `<prefix>e:<key>` (string): a one-line JSON header (status, headers, ETag, stored-at)
 *   then `\n` then the raw body bytes, written with `SET ... PX <maxAge>`. A hit is one GET.
 * - Tag index `<prefix>ti:{<tag>}` (sorted set): member = entry key, score = when that entry
 *   expires (ms, the index server's clock, plus `INDEX_SLACK_MS`). Written by cache-store.lua
 *   (with the entry on one server, once per tag on a Cluster), which first trims members whose entries have expired (at
 *   most `TRIM_BATCH` per write), so the set holds the live entries, however many distinct query
 *   strings pass, and keeps its TTL >= its longest-lived member's. The `{<tag>}` hash tag puts the
 *   index and its drain keys in one Cluster slot.
 * - Drain key `<prefix>ti:{<tag>}:purge:<uuid>` (sorted set, one per purge in progress): a purge
 *   RENAMEs the index to it (cache-purge-take.lua), then reads it in batches of `PURGE_BATCH`
 *   (ZRANGE), UNLINKs those entries (one multi-key UNLINK per batch on a single server, one UNLINK
 *   per key on Cluster: entries live on many slots) and only then removes them from it (ZREM).
 *   The last ZREM deletes it; a purge that fails midway leaves it to expire with the index's TTL.
 * - Drain registry `<prefix>ti:{<tag>}:drains` (set): the drain keys in progress, added by the
 *   take. Every purge goes through all of them, not only its own: a purge that started earlier
 *   took the index with entries stored before this purge's INCR and may still be removing them
 *   (found by the chaos run: two writes' purges at once, the second answered while the first
 *   still held the old entry). Since entries go before their members, concurrent purges can share
 *   a drain. Emptied drains are removed from it; it lives at least as long as its drains.
 * - Generation `<prefix>g:<tag>` (string counter): INCR on every purge. A miss reads it before
 *   the handler runs; the store compares it again (in the storing script on one server; before
 *   and after the SET on a Cluster): when it moved, a purge ran meanwhile and the response may
 *   hold pre-write data, so it is not kept (no stale re-fill after a purge).
 *   It has no TTL (one small counter per tag) and must never be deleted while an app uses it:
 *   a fill that read it missing before a purge would read it missing again after the purge
 *   and keep its pre-write response.
 * - Fill lock `<prefix>l:<key>` (string, a random token, `PX` the coalesce lockTTL): taken with
 *   `SET NX` by the one request that fills a missing entry; released only by its token.
 * - Directive rate key `<prefix>rd:<key>` (string, `PX` the `honorRequestCacheControl` interval):
 *   taken with `SET NX` by the one request allowed to honour its `Cache-Control` in that interval.
 * - Warm-up lock `<prefix>wl:<host> <path>` (string, a token, `PX` the fill lockTTL): held by the
 *   one instance warming that request; released by its token when done.
 * - Legacy tag set `<prefix>t:<tag>` (plain set, written by 0.1 and never by this version):
 *   drained by every purge of its tag (SPOP in batches) so entries indexed before an upgrade are
 *   purged too; it expires on its own otherwise. The new index has another name, so no command
 *   of this version meets an old set (no WRONGTYPE).
 *
 * No KEYS/SCAN, no multi-key command across slots on a Cluster (on one server the storing script
 * takes the entry, its tags' indexes and generations at once: a proxy that spreads one logical
 * server over several shards, such as a cluster-mode proxy, refuses it and every store fails,
 * open). Every command is bounded, a purge's commands each by `writeTimeout` and each over at
 * most `PURGE_BATCH` members, except the UNLINK that cleans up after a failed store (sent
 * unbounded, not awaited).
 *
 * Failure policy: fail open. A failed or slow read is a miss, a failed write is skipped and the
 * entry it may have stored is removed (an entry no tag index holds could never be purged). One
 * warning per outage, one info line when it answers again.
 *
 * Reads are bounded by `readTimeout`, decided after the event loop's I/O phase (core
 * `withTimeout`): a reply that arrived in time is a hit even when a saturated process reads it late.
 *
 * Longer than 350 lines: every command of the layout above (entries, tag index, generations, fill
 * and warm locks, directives) is here, so the layout has one owner.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../core/client.js';
import { RedisUnavailableError } from '../../core/errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../core/config.js';
import type { SuiteLog } from '../../core/logger.js';
import { OutageLog } from '../../core/outage.js';
import type { BoundedConnection } from '../../core/resolve.js';
import { defineScript } from '../../core/script.js';
import STORE_LUA from './lua/cache-store.lua';
import TAKE_LUA from './lua/cache-purge-take.lua';
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
  /** Cluster only: the tags' generations the response was built at, and the tags (see `CacheStore.write`). */
  g?: string;
  k?: string[];
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

/**
 * Store an entry and index it under its tags unless a generation moved (one server), or index it
 * under one tag (Cluster: `gens` 0, `value` ''). 1 written, 0 a purge ran. See cache-store.lua.
 */
const storeScript = defineScript<
  [gens: number, tags: number, value: Buffer | '', member: string, ttlMs: number, slackMs: number, trim: number, ...generations: string[]],
  number
>('cache-store', STORE_LUA, -1);
/** Move a tag's index to a purge's drain key and record it among the tag's drains in progress (1 taken, 0 no index). */
const takeScript = defineScript<[], number>('cache-purge-take', TAKE_LUA, 3);
/** Release a fill lock only when it still holds our token (1 released, 0 not ours). */
const unlockScript = defineScript<[token: string], number>('cache-unlock', UNLOCK_LUA, 1);

/**
 * Cluster: entries younger than this (ms, the writer's clock against the reader's), or than
 * `2 * (readTimeout + writeTimeout) + 1000` when that is longer, are checked against their tags'
 * generations on read. It covers the store's window (a bounded look, the SET, a bounded look and
 * the UNLINK, from the entry's `t`) with room for the instances' clocks to differ by a second.
 */
export const CLUSTER_VERIFY_MIN_MS = 2_000;

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
  /** Expired entries served within `staleWhileRevalidate` (`X-Cache: STALE`; not counted in `hits`). */
  stale: number;
  /** Background refreshes of stale entries this instance ran (the one holding the fill lock). */
  refreshes: number;
  /** Stored entries served in place of a failing handler (`X-Cache: STALE-IF-ERROR`; not counted in `hits`). */
  staleIfError: number;
  purges: number;
  purgedKeys: number;
  errors: number;
}

/** Members a purge pops and unlinks per round (one ZPOPMIN, then one UNLINK, or one per key on Cluster). */
export const PURGE_BATCH = 500;
/** Expired members one write trims from a tag index at most. */
export const TRIM_BATCH = 100;
/**
 * How long (ms) an index member outlives its entry's TTL. The index is scored on its own server's
 * clock; the entry's SET may land on another node a moment after the index script ran: a member
 * must never be trimmed while its entry may still be served.
 */
export const INDEX_SLACK_MS = 1_000;

/** UNLINK `keys`: one command on a single server, one per key on Cluster (keys on many slots). */
function unlinkAll(client: RedisClient, keys: readonly string[]): Promise<number> {
  if ((client as { isCluster?: boolean }).isCluster === true) {
    return Promise.all(keys.map((k) => client.unlink(k))).then((counts) => counts.reduce((a, b) => a + b, 0));
  }
  return client.unlink(...keys);
}

/** A fresh set of cache counters, all zero. */
export const zeroCacheCounters = (): CacheCounters => ({
  hits: 0,
  misses: 0,
  bypasses: 0,
  stores: 0,
  discarded: 0,
  coalesced: 0,
  stale: 0,
  refreshes: 0,
  staleIfError: 0,
  purges: 0,
  purgedKeys: 0,
  errors: 0,
});

export class CacheStore {
  readonly prefix: string;
  /** This middleware's counters (also read by its registry's counters, src/core/counters.ts). */
  readonly counters: CacheCounters;
  readonly #conn: () => BoundedConnection;
  readonly #readTimeout: number;
  readonly #writeTimeout: number | undefined;
  readonly #now: () => number;
  readonly #verifyMs: number;
  readonly #outage: OutageLog;
  /** Reads of one entry waiting for this loop turn's GET (see read()). */
  readonly #batched = new Map<string, Promise<CachedResponse | null | undefined>>();

  constructor(options: {
    prefix: string;
    connection: () => BoundedConnection;
    log: () => SuiteLog;
    readTimeout: number;
    writeTimeout?: number | undefined;
    name?: string;
    counters?: CacheCounters;
    /** The middleware's clock (its `now` option), ms. */
    now?: () => number;
  }) {
    this.prefix = options.prefix;
    this.counters = options.counters ?? zeroCacheCounters();
    this.#conn = options.connection;
    this.#outage = new OutageLog(
      options.log,
      `response cache (connection "${options.name ?? 'default'}", prefix "${options.prefix}")`,
      `requests are served uncached (reads slower than readTimeout, ${options.readTimeout} ms, are misses too)`,
    );
    this.#readTimeout = options.readTimeout;
    this.#writeTimeout = options.writeTimeout;
    this.#now = options.now ?? Date.now;
    this.#verifyMs = Math.max(CLUSTER_VERIFY_MIN_MS, 2 * (options.readTimeout + (options.writeTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS)) + 1000);
  }

  /** True when the connection is a Cluster (entries then carry their generations: see `write`). */
  get isCluster(): boolean {
    return this.#conn().client.isCluster === true;
  }

  /**
   * Cluster: an entry younger than `#verifyMs` that carries its generations is served only
   * while they are still its tags' current ones (one more read, only for young entries): an entry
   * whose SET landed after a purge is readable until the store's second look removes it (see
   * `write`), and a read meanwhile must not be served it. A failed look is a miss.
   */
  #unpurged(entry: CachedResponse | null): CachedResponse | null | Promise<CachedResponse | null | undefined> {
    // Nothing to check (no await on a hit that needs none): one server, or an older entry.
    if (!entry || entry.meta.g === undefined || !entry.meta.k?.length || this.#now() - entry.meta.t >= this.#verifyMs) return entry;
    const built = entry.meta.g;
    // A failed look: Redis failed (a miss, nothing written); a moved generation: not cached.
    return this.generations(entry.meta.k).then((current) => (current === built ? entry : current === undefined ? undefined : null));
  }

  /** The cache key of an entry key (what key.ts built, without `<prefix>e:`). */
  #cacheKey(entryKey: string): string {
    const head = `${this.prefix}e:`;
    return entryKey.startsWith(head) ? entryKey.slice(head.length) : entryKey;
  }

  entryKey(key: string): string {
    return `${this.prefix}e:${key}`;
  }
  /** The tag's index (sorted set); `{<tag>}` is its Cluster hash tag, shared with its drain keys. */
  tagKey(tag: string): string {
    return `${this.prefix}ti:{${tag}}`;
  }
  /** The tag's registry of drain keys in progress (set, same Cluster slot as the index). */
  drainsKey(tag: string): string {
    return `${this.tagKey(tag)}:drains`;
  }
  /** The plain set 0.1 indexed a tag in (only drained by purges now). */
  legacyTagKey(tag: string): string {
    return `${this.prefix}t:${tag}`;
  }
  genKey(tag: string): string {
    return `${this.prefix}g:${tag}`;
  }
  lockKey(entryKey: string): string {
    return `${this.prefix}l:${entryKey.slice(this.prefix.length + 2)}`;
  }

  /** The rate key of request directives for an entry (`honorRequestCacheControl`). */
  directiveKey(entryKey: string): string {
    return `${this.prefix}rd:${entryKey.slice(this.prefix.length + 2)}`;
  }

  /** Claim the right to honour a request directive for an entry for `intervalMs` (false: claimed already, or Redis failed). */
  async claimDirective(entryKey: string, intervalMs: number): Promise<boolean> {
    return (await this.#run((client) => client.set(this.directiveKey(entryKey), '1', 'PX', intervalMs, 'NX'), this.#writeTimeout)) === 'OK';
  }

  /** Take the warm-up lock of a request (`<prefix>wl:<host> <path>`): a token, or null when held elsewhere or Redis failed. */
  async warmLock(request: string, ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    const ok = await this.#run((client) => client.set(`${this.prefix}wl:${request}`, token, 'PX', ttlMs, 'NX'), this.#writeTimeout);
    return ok === 'OK' ? token : null;
  }

  async warmUnlock(request: string, token: string): Promise<void> {
    await this.#run((client) => unlockScript.run(client, [`${this.prefix}wl:${request}`], token), this.#writeTimeout);
  }

  /** Try to become the filler of an entry: a token when taken, null when another request holds it, undefined when Redis failed. */
  async lock(entryKey: string, ttlMs: number): Promise<string | null | undefined> {
    const token = randomUUID();
    const ok = await this.#run((client) => client.set(this.lockKey(entryKey), token, 'PX', ttlMs, 'NX'), this.#writeTimeout);
    if (ok === undefined) return undefined;
    return ok === 'OK' ? token : null;
  }

  async unlock(entryKey: string, token: string): Promise<void> {
    await this.#run((client) => unlockScript.run(client, [this.lockKey(entryKey)], token), this.#writeTimeout);
  }

  /**
   * Wait for another request to fill an entry: poll the entry (and the lock) every `pollInterval`,
   * at most `maxWait`. Resolves with the entry, or null when the filler gave up (its lock is gone
   * with no entry: the response was not cacheable, or it failed), the bound passed, or Redis failed.
   */
  async waitForFill(entryKey: string, settings: CoalesceSettings, accept: (entry: CachedResponse) => boolean = () => true): Promise<CachedResponse | null> {
    const deadline = Date.now() + settings.maxWait;
    const lockKey = this.lockKey(entryKey);
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(settings.pollInterval, Math.max(1, deadline - Date.now()))));
      const polled = await this.#read((client) => Promise.all([client.getBuffer(entryKey), client.pttl(lockKey)]));
      if (polled === undefined) return null;
      const [raw, lockLeftMs] = polled;
      const entry = raw ? ((await this.#unpurged(decodeEntry(raw))) ?? null) : null;
      // An expired entry kept for staleIfError is not the fill we wait for.
      if (entry && accept(entry)) return entry;
      // Unlocked: the fill ended without an entry. Locked for more than half its TTL (and longer
      // than a waiter waits): its filler most likely died or could not release it (Redis was
      // down); waiting for it again would cost every miss maxWait until the lock expires. A live
      // filler slower than that is not waited for either (those misses run the handler).
      if (lockLeftMs === -2 || settings.lockTTL - lockLeftMs > Math.max(settings.maxWait, settings.lockTTL / 2)) return null;
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
        this.#read((client) => client.getBuffer(entryKey)).then((raw) =>
          resolve(raw === undefined ? undefined : raw === null ? null : this.#unpurged(decodeEntry(raw))),
        );
      });
    });
    this.#batched.set(entryKey, read);
    return read;
  }

  /** The current generation of each tag (joined), or undefined when Redis failed. */
  async generations(tags: readonly string[]): Promise<string | undefined> {
    if (tags.length === 0) return '';
    const gens = await this.#read((client) => Promise.all(tags.map((t) => client.get(this.genKey(t)))));
    return gens === undefined ? undefined : gens.map((g) => g ?? '0').join(',');
  }

  /**
   * Store an entry and index it under its tags, unless a purge of one of them ran since
   * `generation` was read (before the response was built: its body may predate the write that
   * caused the purge). Resolves when Redis has answered: true when stored.
   *
   * On one server (standalone, Sentinel) the look at the generations, the SET and the indexing are
   * one script (cache-store.lua): a purge is either before it (nothing is stored) or after it (the
   * entry is in the index the purge drains), so no reader ever sees a pre-purge entry after the
   * purge. Found by the chaos run (RELIABILITY.md): checking in separate commands left the old
   * response readable for a round trip right after a write had answered.
   *
   * On a Cluster the entry, its indexes and the generations live on different slots: the
   * generations are looked at before the SET (a purge already run stores nothing) and after it
   * (a purge meanwhile removes the entry again); a purge that lands between the look and the SET
   * leaves the old response in Redis until that second look has removed it; the entry carries its
   * generations, and reads check young entries against them (`#unpurged`). When storing or
   * indexing fails, the entry is removed too: an entry its index does not hold could outlive a
   * purge.
   */
  async write(entryKey: string, value: Buffer, ttlMs: number, tags: readonly string[], generation: string): Promise<boolean> {
    if (!this.isCluster) {
      const expected = tags.length > 0 ? generation.split(',') : [];
      const written = await this.#run(
        (client) =>
          storeScript.run(
            client,
            [...tags.map((t) => this.genKey(t)), ...tags.map((t) => this.tagKey(t)), entryKey],
            tags.length,
            tags.length,
            value,
            entryKey,
            ttlMs,
            INDEX_SLACK_MS,
            TRIM_BATCH,
            ...expected,
          ),
        this.#writeTimeout,
      );
      if (written === 1) {
        this.counters.stores++;
        return true;
      }
      if (written === 0) this.counters.discarded++;
      // Failed or timed out: nothing to undo. A script that still runs later stores the entry only
      // if no purge has run by then, indexed, so a later purge removes it.
      return false;
    }
    // A look that fails (slower than readTimeout) decides nothing: the check after the SET still runs.
    const before = tags.length > 0 ? await this.generations(tags) : generation;
    if (before !== undefined && before !== generation) {
      // A purge ran since the response was built: its body may predate the write that caused it.
      this.counters.discarded++;
      return false;
    }
    let sent = true;
    const stored = await this.#run(
      async (client) => {
        await Promise.all([
          client.set(entryKey, value, 'PX', ttlMs),
          ...tags.map((t) => storeScript.run(client, [this.tagKey(t)], 0, 1, '', entryKey, ttlMs, INDEX_SLACK_MS, TRIM_BATCH)),
        ]);
        return true;
      },
      this.#writeTimeout,
      // Refused before it was sent: nothing to undo. Closed in flight: it may still land.
      (err) => (sent = !(err instanceof RedisUnavailableError) || err.inFlight),
    );
    if (!stored) {
      // The SET may have landed while indexing failed or timed out, or land once a hung server
      // answers. This UNLINK goes to the same node, after the SET, so it lands after it. It is
      // sent on the raw client, unbounded and not awaited: the request does not wait for the
      // cleanup. (Nothing to undo when the commands were never sent.)
      if (sent)
        this.#conn()
          .client.unlink(entryKey)
          .catch(() => undefined);
      return false;
    }
    const after = await this.generations(tags);
    if (after === generation) {
      this.counters.stores++;
      return true;
    }
    // A purge ran meanwhile (or the check failed): the body may predate the write that caused it.
    this.counters.discarded++;
    await this.#run((client) => client.unlink(entryKey), this.#writeTimeout);
    return false;
  }

  /**
   * Remove every entry tagged `tag`: INCR its generation (so responses being built now are not
   * stored), move its index to this purge's drain key (fills from now on index themselves anew),
   * then go through every drain in progress (its own and other purges' of this tag), UNLINKing
   * entries in batches of `PURGE_BATCH` before removing them from the drain; then the same for a
   * legacy (0.1) set. It returns once no entry indexed before its INCR is left.
   * Every command is bounded by `writeTimeout`. Returns the number of entry keys removed. Throws
   * when Redis fails (the caller decides: log it, or report it); what was not drained then
   * expires with its entries' TTL.
   */
  async purge(tag: string, removedKeys?: string[]): Promise<number> {
    const conn = this.#conn();
    const t = this.#writeTimeout;
    const tagKey = this.tagKey(tag);
    const registryKey = this.drainsKey(tag);
    await conn.run((client) => client.incr(this.genKey(tag)), t);
    const drainKey = `${tagKey}:purge:${randomUUID()}`;
    let removed = 0;
    await conn.run((client) => takeScript.run(client, [tagKey, drainKey, registryKey]), t);
    // This purge's drain and every other still in progress: one that started earlier took the
    // index with entries stored before this purge's INCR, and may not have removed them yet.
    const drains = await conn.run((client) => client.smembers(registryKey), t);
    for (const drain of drains) {
      // Entries are removed before their members: a member gone from a drain is an entry gone,
      // whichever purge removed it, so concurrent purges can share a drain.
      for (;;) {
        const keys = await conn.run((client) => client.zrange(drain, 0, PURGE_BATCH - 1), t);
        if (keys.length === 0) break;
        removed += await conn.run((client) => unlinkAll(client, keys), t);
        await conn.run((client) => client.zrem(drain, ...keys), t);
        removedKeys?.push(...keys.map((k) => this.#cacheKey(k)));
      }
      // Empty (its key is gone with its last member): no purge needs to go through it again.
      await conn.run((client) => client.srem(registryKey, drain), t);
    }
    const legacyKey = this.legacyTagKey(tag);
    for (;;) {
      const keys = await conn.run((client) => client.spop(legacyKey, PURGE_BATCH), t);
      if (keys.length === 0) break;
      removed += await conn.run((client) => unlinkAll(client, keys), t);
      removedKeys?.push(...keys.map((k) => this.#cacheKey(k)));
    }
    this.counters.purges++;
    this.counters.purgedKeys += removed;
    return removed;
  }

  /** How many entries tag `tag` indexes (ZCARD; entries expired since the last write to it may be counted). Throws when Redis fails. */
  async tagSize(tag: string): Promise<number> {
    return this.#conn().run((client) => client.zcard(this.tagKey(tag)), this.#writeTimeout);
  }

  /** A read bounded by `readTimeout` (core `withTimeout`: decided after the loop's I/O phase); failures and timeouts resolve to undefined. */
  #read<T>(command: (client: RedisClient) => Promise<T>): Promise<T | undefined> {
    return this.#run(command, this.#readTimeout);
  }

  /** A bounded command; failures and timeouts resolve to undefined (logged once per outage, and passed to `onError`). */
  async #run<T>(command: (client: RedisClient) => Promise<T>, timeoutMs: number | undefined, onError?: (err: unknown) => void): Promise<T | undefined> {
    let result: T;
    try {
      result = await this.#conn().run(command, timeoutMs);
    } catch (err) {
      this.counters.errors++;
      this.#outage.failed(err);
      onError?.(err);
      return undefined;
    }
    this.#outage.ok();
    return result;
  }
}
