/**
 * The lock service's public shapes: its constants, options, the held lock, its counters, and one
 * error class per way an acquire or a held lock fails. The algorithm is in locks.ts.
 */
import type { RedisConnection } from './connection.js';
import { RedisSuiteConfigError } from './errors.js';
import type { SuiteLog } from './logger.js';
import { bool, ms, optionDefaults, options, parseOptions } from './schema.js';

/** Every key of the lock service (locks, fence counters, cron tick claims) starts with this. */
export const LOCK_KEY_PREFIX = 'lock:';
/** A fence counter expires this long after its last token (7 days); it then restarts above every token it issued. */
export const FENCE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Bound on each lock command, per member, in ms: a release or undo, and each acquire attempt (or less: what is left of `acquireTimeout`, or the TTL). */
export const LOCK_COMMAND_TIMEOUT_MS = 1000;

export interface LockOptions {
  /** Lock lifetime in ms; extended automatically while the holder runs. @default settings.lockTTL */
  ttl?: number;
  /** Bound on the whole acquire, retries included, in ms. @default settings.lockAcquireTimeout */
  acquireTimeout?: number;
  /** Retry while the lock is held elsewhere (`redlockConfig.retryCount`/`retryDelay`); `false`: no waiting for a holder. @default true */
  wait?: boolean;
  /** Extend the lock while the function runs. @default true */
  autoExtend?: boolean;
  /** Hand out a fencing token (one counter key per resource, expiring `FENCE_TTL_MS` after its last use). @default true */
  fence?: boolean;
}

/**
 * The schema of `LockOptions`: checked on every acquire, so a wrong option is an error that names
 * it (not a lock held for `NaN` ms). `ttl` and `acquireTimeout` have no default here: they default
 * to `settings.lockTTL` and `settings.lockAcquireTimeout`.
 */
export const lockOptionsShape = {
  ttl: ms(1, 'a lock TTL in ms (an integer >= 1); leave it out for settings.lockTTL').optional(),
  acquireTimeout: ms(0, 'a bound in ms (an integer >= 0); leave it out for settings.lockAcquireTimeout').optional(),
  wait: bool().default(true),
  autoExtend: bool().default(true),
  fence: bool().default(true),
} satisfies Record<keyof LockOptions, unknown>;
const lockOptionsSchema = options(lockOptionsShape);

/** Every `LockOptions` key with its default (from the schema; `undefined`: from the settings). */
export const LOCK_OPTION_DEFAULTS = Object.freeze({ ttl: undefined, acquireTimeout: undefined, ...optionDefaults(lockOptionsShape) }) as Readonly<{
  ttl: undefined;
  acquireTimeout: undefined;
  wait: boolean;
  autoExtend: boolean;
  fence: boolean;
}>;

/** `options` of `acquire()`/`using()` checked, defaults filled: a `RedisSuiteConfigError` naming each bad option. */
export function parseLockOptions(
  input: LockOptions,
  where: string,
): { ttl?: number; acquireTimeout?: number; wait: boolean; autoExtend: boolean; fence: boolean } {
  return parseOptions(lockOptionsSchema, input, { root: 'options', error: (issues) => new RedisSuiteConfigError(`options of ${where}`, issues) });
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
  constructor(
    readonly resources: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`Lock on ${resources.join(', ')} is held elsewhere.`, options);
  }
}

export class LockUnavailableError extends Error {
  override readonly name = 'LockUnavailableError';
  readonly code = 'REDIS_SUITE_LOCK_UNAVAILABLE';
  constructor(
    readonly resources: readonly string[],
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Lock on ${resources.join(', ')} could not be acquired: ${detail}. ` +
        `A majority of the lock connections (settings.redlockConnections) must be reachable.`,
      options,
    );
  }
}

/** Why the last attempt before a `LockTimeoutError` failed. */
export type LockTimeoutReason = 'held' | 'split' | 'no answer';

export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
  readonly code = 'REDIS_SUITE_LOCK_TIMEOUT';
  /**
   * `held`: another holder kept it; `split`: the votes stayed split (nobody held a majority);
   * `no answer`: lock connections did not answer before the bound ran out.
   */
  readonly reason: LockTimeoutReason;
  constructor(
    readonly resources: readonly string[],
    readonly timeoutMs: number,
    reason: LockTimeoutReason = 'held',
  ) {
    const why = {
      held: 'it was held elsewhere',
      split: 'the votes of the lock connections stayed split',
      'no answer': 'lock connections did not answer in time',
    }[reason];
    super(`Lock on ${resources.join(', ')} was not acquired within ${timeoutMs} ms (settings.lockAcquireTimeout): ${why}.`);
    this.reason = reason;
  }
}

export class LockLostError extends Error {
  override readonly name = 'LockLostError';
  readonly code = 'REDIS_SUITE_LOCK_LOST';
  constructor(
    readonly resources: readonly string[],
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Lock on ${resources.join(', ')} was lost: ${detail}.`, options);
  }
}

/** `settings.redlockConfig` (v2 name): how acquires retry and how much clock drift is allowed for. */
export interface RedlockSettings {
  /** Share of the TTL allowed for clock drift between the members (plus 2 ms). @default 0.01 */
  driftFactor: number;
  /** Retries while the lock is held elsewhere (`-1`: until `acquireTimeout`). @default 10 */
  retryCount: number;
  /** Pause between retries, ms. @default 200 */
  retryDelay: number;
  /** Random +/- added to each pause, ms. @default 200 */
  retryJitter: number;
}

export interface LockServiceOptions {
  /** The quorum: independent masters. */
  connections: readonly RedisConnection[];
  ttl: number;
  acquireTimeout: number;
  /** Other keys (a v2 config may carry redlock's `automaticExtensionThreshold`) are ignored. */
  redlock: Partial<RedlockSettings> & Record<string, unknown>;
  log: SuiteLog;
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
