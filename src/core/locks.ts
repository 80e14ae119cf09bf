/**
 * Distributed locks: the Redlock algorithm over the connections in `settings.redlockConnections`
 * (default: the first connection, never every connection: they must be independent masters).
 *
 * Why the suite implements Redlock itself instead of driving the `redlock` package (5.0.0-beta.2,
 * its last release, 2022), which it used before:
 * - a fencing token must be issued by the same script that takes the lock, on each member, and the
 *   value each member returns must be used: redlock's public API keeps no per-member reply (a
 *   script's result must equal the number of keys, a vote records only who cast it);
 * - its `acquire()` never settles when the votes split (neither side reaches the quorum), so every
 *   acquire needed an outer bound, and undoing an acquire abandoned at that bound needed the lock's
 *   value before redlock drew it: only its private `_random` allows that (the suite patched it);
 * - its retries know no time bound and do not tell "held elsewhere" from "nobody won the vote".
 * The algorithm is small, and every piece is here: a random value per acquire; one script per
 * member (SET NX PX of each key and INCR of each resource's fence counter, all or nothing); success
 * at a majority of members within the TTL minus the clock drift; undo on every member otherwise.
 *
 * - Every command has its own bound, never the connection's default `requestTimeout`: an attempt
 *   waits `LOCK_COMMAND_TIMEOUT_MS` per member (less when less is left of `acquireTimeout`, or the
 *   TTL is shorter), an extension the time left on the lock, a release `LOCK_COMMAND_TIMEOUT_MS`. Commands go through each connection's
 *   `run()`: a member that is down votes "against" at once instead of waiting in the offline queue.
 * - A split vote (no value holds a majority and none can) is retried with jitter within the
 *   acquire's bound, even with `wait: false`: nobody holds the lock, so it is not "busy". When the
 *   votes split, the contender with the smallest value retries first and the others back off, so
 *   a split settles in one retry when every contender saw every member.
 * - A held lock is extended while its holder runs; if an extension fails, the lock's `AbortSignal`
 *   fires with a `LockLostError`. Release and extension are token-checked (by the lock's value).
 * - Fencing tokens: each member returns its counter + 1; the token is the highest of a majority,
 *   and members of that majority that returned less are raised to it before it is handed out, so
 *   any later majority (they all overlap) returns more. A counter expires `FENCE_TTL_MS` after its
 *   last use and then restarts at the server's clock in ms, above any token it issued before.
 * - Keys: `lock:<resource>` (each resource its own Cluster slot) and the fence counter
 *   `lock:fence:{lock:<resource>}` in the same slot (a resource with its own hash tag keeps it:
 *   `lock:fence:{<tag>}<resource>`). On a Cluster member a multi-resource lock is one script per
 *   resource, all or nothing per member; elsewhere one script for all.
 *
 * Longer than 350 lines: acquire (votes, split retries, fencing, undo), extension and release are one
 * algorithm over shared private state; its public shapes are in lock-types.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from './client.js';
import type { RedisConnection } from './connection.js';
import { RedisUnavailableError } from './errors.js';
import { redactText } from './redact.js';
import { defineScript } from './script.js';
import { withTimeout } from './time.js';
import ACQUIRE_LUA from './lua/lock-acquire.lua';
import EXTEND_LUA from './lua/lock-extend.lua';
import FENCE_RAISE_LUA from './lua/lock-fence-raise.lua';
import RELEASE_LUA from './lua/lock-release.lua';
import {
  FENCE_TTL_MS,
  LOCK_COMMAND_TIMEOUT_MS,
  LOCK_KEY_PREFIX,
  parseLockOptions,
  LockBusyError,
  LockLostError,
  LockTimeoutError,
  LockUnavailableError,
  type HeldLock,
  type LockContext,
  type LockOptions,
  type LockServiceOptions,
  type LockStats,
  type RedlockSettings,
} from './lock-types.js';

// the public shapes live in lock-types.ts; importers of this module keep finding them here
export * from './lock-types.js';

/** A member that did not answer a lock command within the lock's own bound. */
class LockCommandTimeoutError extends Error {
  override readonly name = 'LockCommandTimeoutError';
  constructor(
    connection: string,
    readonly timeoutMs: number,
    why: string,
  ) {
    super(`lock connection "${connection}" did not answer within ${timeoutMs} ms (${why})`);
  }
}

/** The bound of a lock command is the suite's own (below), never the connection's `requestTimeout`. */
const NO_CONNECTION_BOUND = 2 ** 31 - 1;

interface Bound {
  ms: number;
  /** What set it, for the error message. */
  why: string;
}

/** Run one lock command on one member, bounded by `bound`. */
function runOn<T>(conn: RedisConnection, command: (client: RedisClient) => Promise<T>, bound: Bound): Promise<T> {
  return withTimeout(conn.run(command, NO_CONNECTION_BOUND), bound.ms, () => new LockCommandTimeoutError(conn.name, bound.ms, bound.why));
}

const COMMAND_BOUND: Bound = { ms: LOCK_COMMAND_TIMEOUT_MS, why: 'LOCK_COMMAND_TIMEOUT_MS' };
/** How often a failed release is tried again, while the lock would still live. */
const RELEASE_RETRY_MS = 200;

/** Resource names may not start with this: their lock keys would be fence counters. */
const RESERVED = 'fence:';

/** See the .lua headers. */
const acquireScript = defineScript<[value: string, ttl: string, fence: string, fenceTtl: string], Array<number | string>>('lock-acquire', ACQUIRE_LUA, -1);
const extendScript = defineScript<[value: string, ttl: string], number>('lock-extend', EXTEND_LUA, -1);
const releaseScript = defineScript<[value: string], number>('lock-release', RELEASE_LUA, -1);
const raiseScript = defineScript<[token: string, fenceTtl: string], number>('lock-fence-raise', FENCE_RAISE_LUA, 1);

const DEFAULT_REDLOCK: RedlockSettings = { driftFactor: 0.01, retryCount: 10, retryDelay: 200, retryJitter: 200 };

/** The first hash tag of a key, as Redis Cluster reads it (none: the whole key is hashed). */
function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** The lock key of a resource: its own slot. */
function lockKeyOf(resource: string): string {
  const key = `${LOCK_KEY_PREFIX}${resource}`;
  if (hashTag(key) !== undefined || !key.includes('}')) return key;
  // A '}' outside any hash tag: no tag can name this key's slot, so give it one of its own.
  return `${LOCK_KEY_PREFIX}{#${createHash('sha1').update(resource).digest('hex').slice(0, 16)}}${resource}`;
}

/** The fence counter of a resource, in its lock key's slot. */
function fenceKeyOf(resource: string): string {
  const key = lockKeyOf(resource);
  const tag = hashTag(key);
  return tag === undefined ? `${LOCK_KEY_PREFIX}fence:{${key}}` : `${LOCK_KEY_PREFIX}fence:{${tag}}${resource}`;
}

interface Keys {
  lock: string;
  fence: string;
}

/** One member's answer to an acquire. `changed`: it may have written something (an undo is due). */
type Vote =
  { kind: 'for'; tokens: number[]; changed: true } | { kind: 'held'; holder: string; changed: boolean } | { kind: 'error'; error: Error; changed: boolean };

/** Settle with what answered so far once `enough` says so (or all answered). */
function gather<T>(tasks: ReadonlyArray<Promise<T>>, enough: (answers: ReadonlyArray<T | undefined>) => boolean): Promise<Array<T | undefined>> {
  return new Promise((resolve) => {
    const answers: Array<T | undefined> = tasks.map(() => undefined);
    let left = tasks.length;
    let done = false;
    const check = () => {
      if (done || (left > 0 && !enough(answers))) return;
      done = true;
      resolve([...answers]);
    };
    tasks.forEach((task, i) =>
      task.then((value) => {
        answers[i] = value;
        left--;
        check();
      }),
    );
    check();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

export class LockService {
  /** Counters on this instance; read them through the status service or the admin panel. */
  readonly stats: LockStats = { acquired: 0, busy: 0, timedOut: 0, unavailable: 0, lost: 0 };
  readonly #conns: readonly RedisConnection[];
  readonly #opts: LockServiceOptions;
  readonly #settings: RedlockSettings;
  readonly #majority: number;

  constructor(options: LockServiceOptions) {
    if (options.connections.length === 0) throw new Error('LockService needs at least one connection');
    this.#opts = options;
    this.#conns = options.connections;
    this.#majority = Math.floor(options.connections.length / 2) + 1;
    const s = { ...DEFAULT_REDLOCK };
    for (const k of Object.keys(DEFAULT_REDLOCK) as Array<keyof RedlockSettings>) {
      const v = options.redlock[k];
      if (typeof v === 'number' && Number.isFinite(v)) s[k] = v;
    }
    this.#settings = s;
  }

  /** Names of the quorum connections. */
  get quorum(): string[] {
    return this.#conns.map((conn) => conn.name);
  }

  /** The default bound on an acquire (`settings.lockAcquireTimeout`), in ms. */
  get acquireTimeout(): number {
    return this.#opts.acquireTimeout;
  }

  /** The Redis key of a resource's lock. */
  key(resource: string): string {
    return lockKeyOf(resource);
  }

  /** The Redis key of a resource's fence counter (same Cluster slot as its lock). */
  fenceKey(resource: string): string {
    return fenceKeyOf(resource);
  }

  /**
   * Acquire a lock on one or more resources, bounded by `acquireTimeout`. Rejects with
   * `LockBusyError` (held elsewhere), `LockUnavailableError` (no quorum reachable) or
   * `LockTimeoutError`.
   */
  async acquire(resources: string | readonly string[], options: LockOptions = {}): Promise<HeldLock> {
    // a resource named twice is locked once
    const list = typeof resources === 'string' ? [resources] : [...new Set(resources)];
    if (list.length === 0) throw new TypeError('acquire() needs at least one resource');
    for (const r of list) {
      if (typeof r !== 'string') throw new TypeError(`lock resource names are strings (got ${typeof r})`);
      if (r.startsWith(RESERVED)) throw new TypeError(`lock resource names may not start with "${RESERVED}" (reserved for fence counters): "${r}"`);
    }
    const checked = parseLockOptions(options, 'acquire()');
    const ttl = checked.ttl ?? this.#opts.ttl;
    const timeout = checked.acquireTimeout ?? this.#opts.acquireTimeout;
    const { wait, fence } = checked;
    const keys = list.map((r) => ({ lock: lockKeyOf(r), fence: fenceKeyOf(r) }));
    const value = randomBytes(16).toString('hex');
    const { retryCount } = this.#settings;
    const maxAttempts = retryCount < 0 ? Infinity : retryCount + 1;
    const deadline = Date.now() + timeout;
    const n = this.#conns.length;

    let splits = 0;
    let last = false;
    for (let attempt = 1; ; attempt++) {
      const start = Date.now();
      const left = deadline - start;
      const bound: Bound =
        left <= Math.min(LOCK_COMMAND_TIMEOUT_MS, ttl)
          ? { ms: Math.max(1, left), why: 'what was left of acquireTimeout' }
          : { ms: Math.min(LOCK_COMMAND_TIMEOUT_MS, ttl), why: ttl < LOCK_COMMAND_TIMEOUT_MS ? 'the lock TTL' : 'LOCK_COMMAND_TIMEOUT_MS' };
      const votes = this.#conns.map((conn) => this.#acquireOn(conn, keys, value, ttl, fence, bound));
      const seen = await gather(votes, (a) => {
        const yes = a.filter((v) => v?.kind === 'for').length;
        const no = a.filter((v) => v !== undefined && v.kind !== 'for').length;
        return yes >= this.#majority || no > n - this.#majority;
      });
      const fors = seen.flatMap((v, i) => (v?.kind === 'for' ? [{ i, tokens: v.tokens }] : []));
      let failure: 'expired' | undefined;
      if (fors.length >= this.#majority) {
        const tokens = keys.map((_, k) => Math.max(...fors.map((f) => f.tokens[k]!)));
        if (fence && n > 1) {
          const stored = await this.#raise(keys, tokens, fors, {
            ms: Math.max(1, Math.min(deadline, start + ttl, Date.now() + LOCK_COMMAND_TIMEOUT_MS) - Date.now()),
            why: 'the time left to acquire',
          });
          // tokens from members that answered after the majority: raise them too, in the background
          votes.forEach((vote, i) => {
            if (seen[i] === undefined)
              void vote.then((late) => (late.kind === 'for' ? this.#raise(keys, tokens, [{ i, tokens: late.tokens }], COMMAND_BOUND) : 0));
          });
          if (stored < this.#majority) {
            await this.#undo(keys, value, votes, seen);
            this.stats.unavailable++;
            throw new LockUnavailableError(list, `only ${stored} of ${n} lock connections stored the fencing token`);
          }
        }
        const expiration = start + ttl - this.#drift(ttl);
        if (expiration > Date.now()) {
          this.stats.acquired++;
          const fencingTokens = Object.fromEntries(list.map((r, k) => [r, fence ? tokens[k]! : 0]));
          // a member that answers after the release would hold a stale minority vote: undo it then
          const late = votes.flatMap((vote, i) => (seen[i] === undefined ? [{ i, vote }] : []));
          return this.#held(list, keys, value, ttl, expiration, fencingTokens, checked.autoExtend, late);
        }
        failure = 'expired'; // the majority answered too late for the lock to be worth anything
      }

      await this.#undo(keys, value, votes, seen);
      const outcome = failure ?? this.#classify(seen, value);
      const duration = Date.now() - start;
      // members that did not answer because the acquire's own bound ran out: it timed out
      const ranOut = bound.why === 'what was left of acquireTimeout' && seen.some((v) => v?.kind === 'error' && v.error instanceof LockCommandTimeoutError);
      let delay = this.#retryDelay();
      if (outcome === 'split' || outcome === 'expired') {
        splits++;
        delay = this.#splitDelay(seen, value, duration, splits, deadline);
        this.#opts.log.debug(`lock on ${list.join(', ')}: votes split (${this.#summary(seen, value)}); retrying in ${delay} ms`);
      }
      // the last attempt starts early enough to finish by the deadline (a retry that does not fit
      // moves there), and none starts after it: the deadline, not the retry count, ends the wait
      const room = deadline - Date.now() - duration;
      const noTime = room <= 0 || last;
      if (delay >= room) {
        delay = Math.max(0, room);
        last = true;
      }
      if (outcome === 'unavailable' && !ranOut && (!wait || attempt >= maxAttempts || noTime)) {
        this.stats.unavailable++;
        throw this.#unavailableError(list, seen);
      }
      if (outcome === 'busy' && (!wait || (attempt >= maxAttempts && !noTime))) {
        this.stats.busy++;
        throw new LockBusyError(list);
      }
      if (ranOut || noTime) {
        this.stats.timedOut++;
        this.#opts.log.debug(`lock on ${list.join(', ')}: not acquired within ${timeout} ms (last attempt: ${outcome}; ${this.#summary(seen, value)})`);
        throw new LockTimeoutError(list, timeout, ranOut || outcome === 'unavailable' ? 'no answer' : outcome === 'busy' ? 'held' : 'split');
      }
      await sleep(delay);
    }
  }

  /**
   * Run `fn` while holding a lock on `resources`: acquired (bounded), extended while `fn` runs,
   * released when it settles. `fn` gets the abort signal and the fencing token.
   */
  async using<T>(resources: string | readonly string[], fn: (ctx: LockContext) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    const lock = await this.acquire(resources, options);
    try {
      return await fn(lock);
    } finally {
      await lock.release();
    }
  }

  #drift(ttl: number): number {
    return Math.round(this.#settings.driftFactor * ttl) + 2;
  }

  #retryDelay(): number {
    const { retryDelay, retryJitter } = this.#settings;
    return Math.max(0, Math.round(retryDelay + (Math.random() * 2 - 1) * retryJitter));
  }

  /** One member's vote: one script for every resource, or (Cluster) one per resource, each its own slot. */
  async #acquireOn(conn: RedisConnection, keys: Keys[], value: string, ttl: number, fence: boolean, bound: Bound): Promise<Vote> {
    const args = [value, String(ttl), fence ? '1' : '0', String(FENCE_TTL_MS)] as const;
    const once = async (group: Keys[]): Promise<Vote> => {
      const reply = await runOn(
        conn,
        (client) =>
          acquireScript.run(
            client,
            group.flatMap((k) => [k.lock, k.fence]),
            ...args,
          ),
        bound,
      );
      if (reply[0] === 1) return { kind: 'for', tokens: reply.slice(1).map(Number), changed: true };
      return { kind: 'held', holder: String(reply[1]), changed: false };
    };
    try {
      if (!conn.isCluster || keys.length === 1) return await once(keys);
      const parts = await Promise.all(keys.map((k) => once([k])));
      const held = parts.find((p) => p.kind === 'held');
      if (held) return { ...held, changed: parts.some((p) => p.kind === 'for') };
      return { kind: 'for', tokens: parts.flatMap((p) => (p.kind === 'for' ? p.tokens : [])), changed: true };
    } catch (err) {
      // Not sent (the client is not ready): nothing to undo. Anything else may have been applied.
      return { kind: 'error', error: asError(err), changed: !(err instanceof RedisUnavailableError) };
    }
  }

  /**
   * Raise the fence counters of the members in `voters` that returned less than `tokens` (all of
   * them, for late voters). Returns, for the resource stored on the fewest members, how many
   * members now hold a counter at least its token.
   */
  async #raise(keys: Keys[], tokens: number[], voters: Array<{ i: number; tokens: number[] }>, bound: Bound): Promise<number> {
    const counts = await Promise.all(
      keys.map(async (k, r) => {
        const results = await Promise.all(
          voters.map(async (v) => {
            if (v.tokens[r]! >= tokens[r]!) return true;
            try {
              await runOn(this.#conns[v.i]!, (client) => raiseScript.run(client, [k.fence], String(tokens[r]), String(FENCE_TTL_MS)), bound);
              return true;
            } catch (err) {
              this.#opts.log.debug(`fence counter ${k.fence} not raised on "${this.#conns[v.i]!.name}": ${redactText(asError(err).message)}`);
              return false;
            }
          }),
        );
        return results.filter(Boolean).length;
      }),
    );
    return Math.min(...counts);
  }

  /** Token-checked delete of `keys` holding `value` on one member, bounded; never throws. */
  async #releaseOn(conn: RedisConnection, keys: Keys[], value: string): Promise<boolean> {
    try {
      if (!conn.isCluster || keys.length === 1) {
        await runOn(
          conn,
          (client) =>
            releaseScript.run(
              client,
              keys.map((k) => k.lock),
              value,
            ),
          COMMAND_BOUND,
        );
      } else {
        await Promise.all(keys.map((k) => runOn(conn, (client) => releaseScript.run(client, [k.lock], value), COMMAND_BOUND)));
      }
      return true;
    } catch (err) {
      this.#opts.log.debug(`lock release on "${conn.name}" failed (it will expire): ${redactText(asError(err).message)}`);
      return false;
    }
  }

  /**
   * A release that failed on some members (connection down or reset at that moment) is retried in
   * the background until the lock would have expired anyway: otherwise a server that comes back
   * with the key (AOF, a reset connection) keeps the resource held for the rest of the TTL, and
   * e.g. the cron guard skips every tick meanwhile as "still running". Token-checked like every
   * release, so it can only delete this holder's value. Every RELEASE_RETRY_MS while the lock
   * would live (a member whose connection is not ready rejects at once, sending nothing); its
   * timers never keep the process alive.
   */
  #retryRelease(pending: RedisConnection[], keys: Keys[], value: string, until: number): void {
    let left = pending;
    const attempt = (): void => {
      if (Date.now() + 10 >= until) return;
      void Promise.all(left.map((conn) => this.#releaseOn(conn, keys, value))).then((done) => {
        left = left.filter((_, i) => !done[i]);
        if (left.length > 0) setTimeout(attempt, RELEASE_RETRY_MS).unref?.();
      });
    };
    setTimeout(attempt, RELEASE_RETRY_MS).unref?.();
  }

  /** Remove this acquire's value from every member that may hold it, now and when a late vote lands. */
  async #undo(keys: Keys[], value: string, votes: ReadonlyArray<Promise<Vote>>, seen: ReadonlyArray<Vote | undefined>): Promise<void> {
    const now: Array<Promise<boolean>> = [];
    votes.forEach((vote, i) => {
      const answer = seen[i];
      if (answer === undefined) {
        void vote.then((late) => (late.changed ? this.#releaseOn(this.#conns[i]!, keys, value) : false));
      } else if (answer.changed) now.push(this.#releaseOn(this.#conns[i]!, keys, value));
    });
    await Promise.all(now);
  }

  /**
   * Why an attempt failed. `unavailable`: too few members answered to ever form a majority;
   * `busy`: some other value holds, or may hold (counting members that did not answer), a
   * majority; `split`: nobody holds a majority and nobody can.
   */
  #classify(seen: ReadonlyArray<Vote | undefined>, value: string): 'unavailable' | 'busy' | 'split' {
    const answered = seen.filter((v) => v !== undefined && v.kind !== 'error').length;
    const unknown = seen.length - answered;
    if (answered < this.#majority) return 'unavailable';
    const holders = new Map<string, number>();
    for (const v of seen) if (v?.kind === 'held' && v.holder !== value) holders.set(v.holder, (holders.get(v.holder) ?? 0) + 1);
    const most = Math.max(0, ...holders.values());
    return most + unknown >= this.#majority ? 'busy' : 'split';
  }

  /**
   * The pause before retrying a split vote. Every contender of a split saw the same values (when
   * every member answered): the one with the smallest value retries at once, the others right
   * after its attempt had time to settle (and then find the lock held). From the third split in a
   * row (a contender missed some votes, or a very loaded process), random jitter within what is
   * left of the bound.
   */
  #splitDelay(seen: ReadonlyArray<Vote | undefined>, value: string, duration: number, splits: number, deadline: number): number {
    const jitter = (max: number) => Math.floor(Math.random() * Math.max(1, max));
    if (splits <= 2) {
      return this.#smallestContender(seen, value) ? jitter(10) : 2 * duration + 10 + jitter(duration + 10);
    }
    return jitter((deadline - Date.now() - duration) / 2);
  }

  /** True when this acquire's value is below every other value seen holding a member (and it holds one). */
  #smallestContender(seen: ReadonlyArray<Vote | undefined>, value: string): boolean {
    if (!seen.some((v) => v?.kind === 'for')) return false;
    return seen.every((v) => v?.kind !== 'held' || v.holder === value || value < v.holder);
  }

  #summary(seen: ReadonlyArray<Vote | undefined>, value: string): string {
    const names = new Map<string, string>();
    return seen
      .map((v, i) => {
        const name = this.#conns[i]!.name;
        if (v === undefined) return `${name}: no answer yet`;
        if (v.kind === 'for') return `${name}: for`;
        if (v.kind === 'error') return `${name}: ${redactText(v.error.message)}`;
        if (v.holder === value) return `${name}: ours, stale`;
        if (!names.has(v.holder)) names.set(v.holder, `holder ${names.size + 1}`);
        return `${name}: ${names.get(v.holder)}`;
      })
      .join(', ');
  }

  #unavailableError(resources: string[], seen: ReadonlyArray<Vote | undefined>): LockUnavailableError {
    const failed = seen.filter((v) => v?.kind === 'error');
    const first = seen.find((v): v is Extract<Vote, { kind: 'error' }> => v?.kind === 'error');
    return new LockUnavailableError(
      resources,
      `${failed.length} of ${seen.length} lock connections failed${first ? ` (${redactText(first.error.message)})` : ''}`,
      first ? { cause: first.error } : undefined,
    );
  }

  /** Extend `keys` holding `value` on one member; true when it still held them all. */
  async #extendOn(conn: RedisConnection, keys: Keys[], value: string, ttl: number, bound: Bound): Promise<boolean | Error> {
    try {
      const locks = keys.map((k) => k.lock);
      if (!conn.isCluster || keys.length === 1) {
        return (await runOn(conn, (client) => extendScript.run(client, locks, value, String(ttl)), bound)) === keys.length;
      }
      const parts = await Promise.all(locks.map((k) => runOn(conn, (client) => extendScript.run(client, [k], value, String(ttl)), bound)));
      return parts.every((p) => p === 1);
    } catch (err) {
      return asError(err);
    }
  }

  #held(
    resources: string[],
    keys: Keys[],
    value: string,
    ttl: number,
    initialExpiration: number,
    fencingTokens: Record<string, number>,
    autoExtend: boolean,
    lateVotes: ReadonlyArray<{ i: number; vote: Promise<Vote> }>,
  ): HeldLock {
    const controller = new AbortController();
    const log = this.#opts.log;
    const stats = this.stats;
    const conns = this.#conns;
    const majority = this.#majority;
    let expiration = initialExpiration;
    let released = false;
    let timer: NodeJS.Timeout | undefined;

    const lose = (detail: string, cause?: unknown) => {
      if (controller.signal.aborted) return;
      const error = new LockLostError(resources, detail, { cause });
      stats.lost++;
      log.warn(error.message);
      controller.abort(error);
    };

    const extend = async (by = ttl): Promise<void> => {
      if (controller.signal.aborted) throw controller.signal.reason;
      let detail = 'it expired before it could be extended (was the event loop blocked?)';
      for (let attempt = 0; attempt < 3 && expiration > Date.now(); attempt++) {
        if (attempt > 0) await sleep(100);
        const start = Date.now();
        if (expiration <= start) break;
        const bound: Bound = { ms: expiration - start, why: 'the time left on the lock' };
        const votes = conns.map((conn) => this.#extendOn(conn, keys, value, by, bound));
        const seen = await gather(
          votes,
          (a) => a.filter((v) => v === true).length >= majority || a.filter((v) => v !== undefined && v !== true).length > conns.length - majority,
        );
        const yes = seen.filter((v) => v === true).length;
        if (yes >= majority && expiration > Date.now()) {
          expiration = start + by - this.#drift(by);
          return;
        }
        const notOurs = seen.filter((v) => v === false).length;
        const error = seen.find((v): v is Error => v instanceof Error);
        if (notOurs > conns.length - majority) {
          lose(`another value holds it on ${notOurs} of ${conns.length} lock connections`);
          throw controller.signal.reason;
        }
        detail = `only ${yes} of ${conns.length} lock connections extended it${error ? ` (${redactText(error.message)})` : ''}`;
      }
      lose(expiration > Date.now() ? `extending it failed: ${detail}` : detail);
      throw controller.signal.reason;
    };

    const schedule = () => {
      if (released || !autoExtend || controller.signal.aborted) return;
      // Extend when a third of the TTL is left, leaving room for a slow round trip.
      const delay = Math.max(0, expiration - Date.now() - Math.floor(ttl / 3));
      timer = setTimeout(() => {
        extend().then(schedule, () => undefined);
      }, delay);
      timer.unref?.();
    };
    schedule();

    return {
      signal: controller.signal,
      resources,
      fencingTokens,
      fencingToken: fencingTokens[resources[0]!]!,
      extend,
      release: async () => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        const expiresAt = expiration;
        expiration = 0;
        // every member, each bounded: a member still holding the value would make the very next
        // acquire of this resource look held elsewhere
        const done = await Promise.all(conns.map((conn) => this.#releaseOn(conn, keys, value)));
        for (const { i, vote } of lateVotes) void vote.then((late) => (late.changed ? this.#releaseOn(conns[i]!, keys, value) : false));
        const failed = conns.filter((_, i) => !done[i]);
        if (failed.length > 0) this.#retryRelease(failed, keys, value, expiresAt);
      },
    };
  }
}
