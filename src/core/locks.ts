/**
 * Distributed locks on the `redlock` package.
 *
 * - The quorum is the connections named in `settings.redlockConnections` (default: the first
 *   connection), never every connection: they must be independent masters.
 * - Every acquire is bounded in time (`acquireTimeout`), whatever redlock does (its 5.0.0-beta.2
 *   `acquire()` never returns on a split vote).
 * - Commands go through each connection's bounded `run()`: a connection that is down votes
 *   "against" at once instead of waiting in ioredis' offline queue.
 * - A held lock is extended by the suite (not by redlock's `using()`) while the function runs; if
 *   an extension fails, the lock's `AbortSignal` fires with a `LockLostError`.
 * - Release is token-checked (redlock's script deletes only keys holding this lock's value).
 * - A fencing token (INCR of a per-resource counter on the first quorum connection) is handed to
 *   the holder: it grows with every acquisition of that resource.
 * - Keys are `lock:{locks}:<resource>`: one hash tag, so multi-resource locks stay in one Cluster slot.
 */
import { randomBytes } from 'node:crypto';
import Redlock, { ExecutionError, ResourceLockedError, type Lock, type RedlockClient, type Settings } from 'redlock';
import type { RedisConnection } from './connection.js';
import type { SuiteLog } from './logger.js';
import { redactText } from './redact.js';
import { withTimeout } from './time.js';

export const LOCK_KEY_PREFIX = 'lock:{locks}:';

/**
 * KEYS[1] = fencing counter; ARGV[1] = token. Raises the counter to the token if it is lower.
 * Returns the counter's value afterwards.
 */
/** KEYS = lock keys; ARGV[1] = lock value. Deletes each key that still holds this value. */
const RELEASE_IF_OURS = `local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) n = n + 1 end
end
return n`;

const RAISE_TO = `local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if cur < want then redis.call('SET', KEYS[1], want) return want end
return cur`;

export interface LockOptions {
  /** Lock lifetime in ms; extended automatically while the holder runs. @default settings.lockTTL */
  ttl?: number;
  /** Bound on the whole acquire, retries included, in ms. @default settings.lockAcquireTimeout */
  acquireTimeout?: number;
  /** Retry while the lock is held elsewhere (redlock `retryCount`/`retryDelay`); `false`: one attempt. @default true */
  wait?: boolean;
  /** Extend the lock while the function runs. @default true */
  autoExtend?: boolean;
  /** Hand out a fencing token (one counter key per resource, kept forever). @default true */
  fence?: boolean;
}

export interface LockContext {
  /** Fires when the lock is lost (an extension failed); `signal.reason` is a `LockLostError`. */
  readonly signal: AbortSignal;
  /** Fencing token of the first resource: grows with every acquisition of it. */
  readonly fencingToken: number;
  /** Fencing tokens by resource. */
  readonly fencingTokens: Readonly<Record<string, number>>;
  readonly resources: readonly string[];
}

/** A lock you hold; release it (it also expires after its TTL unless extended). */
export interface HeldLock extends LockContext {
  /** Extend by `ttl` ms from now; throws `LockLostError` when it was lost meanwhile. */
  extend(ttl?: number): Promise<void>;
  /** Token-checked release; never throws (an unreleased lock expires on its own). */
  release(): Promise<void>;
}

export class LockBusyError extends Error {
  override readonly name = 'LockBusyError';
  readonly code = 'REDIS_SUITE_LOCK_BUSY';
  constructor(readonly resources: readonly string[], options?: { cause?: unknown }) {
    super(`Lock on ${resources.join(', ')} is held elsewhere.`, options);
  }
}

export class LockUnavailableError extends Error {
  override readonly name = 'LockUnavailableError';
  readonly code = 'REDIS_SUITE_LOCK_UNAVAILABLE';
  constructor(readonly resources: readonly string[], detail: string, options?: { cause?: unknown }) {
    super(
      `Lock on ${resources.join(', ')} could not be acquired: ${detail}. ` +
        `A majority of the lock connections (settings.redlockConnections) must be reachable.`,
      options,
    );
  }
}

export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
  readonly code = 'REDIS_SUITE_LOCK_TIMEOUT';
  constructor(readonly resources: readonly string[], readonly timeoutMs: number) {
    super(`Lock on ${resources.join(', ')} was not acquired within ${timeoutMs} ms (settings.lockAcquireTimeout).`);
  }
}

export class LockLostError extends Error {
  override readonly name = 'LockLostError';
  readonly code = 'REDIS_SUITE_LOCK_LOST';
  constructor(readonly resources: readonly string[], detail: string, options?: { cause?: unknown }) {
    super(`Lock on ${resources.join(', ')} was lost: ${detail}.`, options);
  }
}

export interface LockServiceOptions {
  /** The quorum: independent masters. */
  connections: readonly RedisConnection[];
  ttl: number;
  acquireTimeout: number;
  redlock: Partial<Settings>;
  log: SuiteLog;
}

/** How the suite talks to one quorum member: bounded, never through the offline queue. */
function boundedClient(conn: RedisConnection): RedlockClient {
  return {
    evalsha: (hash, numKeys, args) => conn.run((c) => c.evalsha(hash, numKeys, ...args)),
    eval: (script, numKeys, args) => conn.run((c) => c.eval(script, numKeys, ...args)),
  };
}

/** In-process counters of one lock service (since it was created). */
export interface LockStats {
  /** Locks acquired. */
  acquired: number;
  /** Acquires that failed because the lock is held elsewhere (after the retries). */
  busy: number;
  /** Acquires that gave up after `acquireTimeout`. */
  timedOut: number;
  /** Acquires that failed because too few lock connections answered. */
  unavailable: number;
  /** Held locks lost (an extension failed, or it expired before it could be extended). */
  lost: number;
}

export class LockService {
  /** Counters on this instance; read them through the status service or the admin panel. */
  readonly stats: LockStats = { acquired: 0, busy: 0, timedOut: 0, unavailable: 0, lost: 0 };
  readonly #redlock: Redlock;
  readonly #conns: readonly RedisConnection[];
  readonly #opts: LockServiceOptions;

  constructor(options: LockServiceOptions) {
    if (options.connections.length === 0) throw new Error('LockService needs at least one connection');
    this.#opts = options;
    this.#conns = options.connections;
    this.#redlock = new Redlock(options.connections.map(boundedClient), {
      driftFactor: 0.01,
      retryCount: 10,
      retryDelay: 200,
      retryJitter: 200,
      ...options.redlock,
    });
    // redlock emits every failed vote as 'error'; an EventEmitter 'error' without listener throws.
    this.#redlock.on('error', (err: Error) => {
      if (!(err instanceof ResourceLockedError)) options.log.debug(`lock vote failed: ${redactText(err.message)}`);
    });
  }

  /** Names of the quorum connections. */
  get quorum(): string[] {
    return this.#conns.map((c) => c.name);
  }

  /** The Redis key of a resource's lock. */
  key(resource: string): string {
    return `${LOCK_KEY_PREFIX}${resource}`;
  }

  /**
   * Acquire a lock on one or more resources, bounded by `acquireTimeout`. Rejects with
   * `LockBusyError` (held elsewhere), `LockUnavailableError` (no quorum reachable) or
   * `LockTimeoutError`.
   */
  async acquire(resources: string | readonly string[], options: LockOptions = {}): Promise<HeldLock> {
    const list = typeof resources === 'string' ? [resources] : [...resources];
    if (list.length === 0) throw new TypeError('acquire() needs at least one resource');
    const ttl = options.ttl ?? this.#opts.ttl;
    const timeout = options.acquireTimeout ?? this.#opts.acquireTimeout;
    const keys = list.map((r) => this.key(r));
    const settings: Partial<Settings> = options.wait === false ? { retryCount: 0 } : {};
    // Choose the lock's value ourselves (redlock draws it synchronously at the start of acquire()),
    // so that an acquire we stop waiting for can still be undone on every member.
    const value = randomBytes(16).toString('hex');
    const internals = this.#redlock as unknown as { _random: () => string };
    const draw = internals._random;
    internals._random = () => value;
    let attempt: Promise<Lock>;
    try {
      attempt = this.#redlock.acquire(keys, ttl, settings);
    } finally {
      internals._random = draw;
    }
    let lock: Lock;
    try {
      lock = await withTimeout(attempt, timeout, () => new LockTimeoutError(list, timeout));
    } catch (err) {
      if (err instanceof LockTimeoutError) {
        this.stats.timedOut++;
        // redlock may still hold a minority of votes (it never settles a split vote): remove our
        // value from every member now, and again if a late attempt ever completes.
        const undo = () => this.#releaseEverywhere(keys, value);
        await undo();
        attempt.then(undo, () => undefined);
        throw err;
      }
      const failure = await this.#classify(list, err);
      if (failure instanceof LockBusyError) this.stats.busy++;
      else this.stats.unavailable++;
      throw failure;
    }
    let fencingTokens: Record<string, number> = Object.fromEntries(list.map((r) => [r, 0]));
    try {
      if (options.fence !== false) fencingTokens = await this.#fence(list);
    } catch (err) {
      await this.#redlock.release(lock).catch(() => undefined);
      this.stats.unavailable++;
      throw new LockUnavailableError(list, `the fencing counter could not be incremented (${redactText((err as Error).message)})`, { cause: err });
    }
    this.stats.acquired++;
    return this.#held(list, lock, ttl, fencingTokens, options.autoExtend !== false);
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

  /**
   * Fencing tokens, safe with several quorum members: read the counter on every reachable member,
   * take the highest, and write highest + 1 back to a majority. Any two majorities share a member,
   * so the token is above every token handed out before, even when members were down meanwhile.
   * Runs while the lock is held, so no other holder races it.
   */
  async #fence(resources: string[]): Promise<Record<string, number>> {
    const majority = Math.floor(this.#conns.length / 2) + 1;
    const out: Record<string, number> = {};
    for (const r of resources) {
      const key = `${LOCK_KEY_PREFIX}fence:${r}`;
      if (this.#conns.length === 1) {
        // one member: read-max-then-raise is a plain INCR, one round trip
        out[r] = await this.#conns[0]!.run((client) => client.incr(key));
        continue;
      }
      const reads = await Promise.allSettled(this.#conns.map((c) => c.run((client) => client.get(key))));
      const values = reads.flatMap((x) => (x.status === 'fulfilled' ? [Number(x.value ?? 0)] : []));
      if (values.length < majority) throw new Error(`only ${values.length} of ${this.#conns.length} lock connections answered`);
      const next = Math.max(0, ...values) + 1;
      const writes = await Promise.allSettled(this.#conns.map((c) => c.run((client) => client.eval(RAISE_TO, 1, key, next))));
      const acked = writes.filter((x) => x.status === 'fulfilled').length;
      if (acked < majority) throw new Error(`only ${acked} of ${this.#conns.length} lock connections stored the token`);
      out[r] = next;
    }
    return out;
  }

  /** Token-checked delete of `keys` holding `value`, on every member, each bounded; never throws. */
  async #releaseEverywhere(keys: string[], value: string): Promise<void> {
    await Promise.allSettled(this.#conns.map((c) => c.run((client) => client.eval(RELEASE_IF_OURS, keys.length, ...keys, value))));
  }

  /** Tell "held elsewhere" from "Redis unavailable" by what the quorum answered. */
  async #classify(resources: string[], err: unknown): Promise<Error> {
    if (!(err instanceof ExecutionError)) {
      return new LockUnavailableError(resources, redactText((err as Error)?.message ?? String(err)), { cause: err });
    }
    const last = err.attempts.length ? await err.attempts[err.attempts.length - 1] : undefined;
    if (!last) return new LockUnavailableError(resources, 'no vote was cast', { cause: err });
    const errors = [...last.votesAgainst.values()];
    const locked = errors.filter((e) => e instanceof ResourceLockedError).length;
    // Enough members answered (for, or "held by someone else") to form a quorum: it is held elsewhere.
    if (locked > 0 && locked + last.votesFor.size >= last.quorumSize) return new LockBusyError(resources, { cause: err });
    const other = errors.find((e) => !(e instanceof ResourceLockedError));
    return new LockUnavailableError(
      resources,
      `${last.votesAgainst.size - locked} of ${last.membershipSize} lock connections failed${other ? ` (${redactText(other.message)})` : ''}`,
      { cause: err },
    );
  }

  #held(resources: string[], initial: Lock, ttl: number, fencingTokens: Record<string, number>, autoExtend: boolean): HeldLock {
    const controller = new AbortController();
    const redlock = this.#redlock;
    const log = this.#opts.log;
    const stats = this.stats;
    let lock = initial;
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
      if (lock.expiration < Date.now()) {
        lose('it expired before it could be extended (was the event loop blocked?)');
        throw controller.signal.reason;
      }
      try {
        lock = await redlock.extend(lock, by, { retryCount: 2, retryDelay: 100 });
      } catch (err) {
        lose(`extending it failed (${redactText((err as Error).message)})`, err);
        throw controller.signal.reason;
      }
    };

    const schedule = () => {
      if (released || !autoExtend || controller.signal.aborted) return;
      // Extend when a third of the TTL is left, leaving room for a slow round trip.
      const delay = Math.max(0, lock.expiration - Date.now() - Math.floor(ttl / 3));
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
      async release() {
        if (released) return;
        released = true;
        clearTimeout(timer);
        try {
          // redlock settles at a quorum of votes; wait (bounded) for the rest too, so that a member
          // still releasing cannot make the very next acquire of this resource look held elsewhere.
          const { attempts } = (await redlock.release(lock, { retryCount: 2, retryDelay: 100 })) as { attempts?: Array<Promise<unknown>> };
          const last = attempts?.[attempts.length - 1];
          if (last) await withTimeout(last, 1000, () => new Error('release votes still in flight')).catch(() => undefined);
        } catch (err) {
          log.debug(`lock release on ${resources.join(', ')} failed (it will expire): ${redactText((err as Error).message)}`);
        }
      },
    };
  }
}
