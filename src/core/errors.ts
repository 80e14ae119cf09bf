/**
 * Error classes of the suite. Each has a stable `name` and `code`, a message that names the
 * option controlling it and the fix, and keeps the underlying `cause`.
 */

/** One problem found in the plugin configuration. */
export interface ConfigIssue {
  /** Dotted path from the plugin id, e.g. `redis.connections.cache.connection.port`. */
  path: string;
  /** The offending value, already rendered with secrets masked. */
  got: string;
  /** What is expected there, and how to fix it. */
  expected: string;
}

/**
 * The base of every config error of the suite: bad options stop boot (or the factory call) with
 * one error listing every problem. Each feature throws its own subclass (`RedisConfigError`,
 * `RateLimitConfigError`, ...), so `instanceof` tells them apart, and each keeps its stable `code`.
 */
export class RedisSuiteConfigError extends Error {
  override readonly name: string = 'RedisSuiteConfigError';
  /** Stable, per subclass: `REDIS_SUITE_CONFIG`, `REDIS_SUITE_RATE_LIMIT_CONFIG`, ... */
  readonly code: string = 'REDIS_SUITE_OPTIONS';
  /** What was being configured, e.g. `Redis plugin config`, `options of rateLimit()`. */
  readonly where: string;
  /** Every problem found, each with its path from the root of `where`. */
  readonly issues: readonly ConfigIssue[];

  constructor(where: string, issues: readonly ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.path}: got ${i.got}; expected ${i.expected}`);
    super(`Invalid ${where} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.where = where;
    this.issues = Object.freeze([...issues]);
  }
}

/** Thrown at boot (by the plugin's `config.validator`) or by `createRedisRegistry` for an invalid config. */
export class RedisConfigError extends RedisSuiteConfigError {
  override readonly name: string = 'RedisConfigError';
  override readonly code: string = 'REDIS_SUITE_CONFIG';

  constructor(issues: readonly ConfigIssue[], where = 'Redis plugin config') {
    super(where, issues);
  }
}

/** A connection name that is not configured (or is disabled) was asked for. */
export class UnknownConnectionError extends Error {
  override readonly name = 'UnknownConnectionError';
  readonly code = 'REDIS_SUITE_UNKNOWN_CONNECTION';

  constructor(
    readonly connection: string,
    readonly known: readonly string[],
    readonly disabled = false,
    readonly where?: string,
  ) {
    const at = where ? ` (asked for by ${where})` : '';
    super(
      disabled
        ? `Redis connection "${connection}"${at} is disabled (enabled: false under redis.connections.${connection}); enable it or use one of: ${list(known)}.`
        : `Unknown Redis connection "${connection}"${at}; configured connections: ${list(known)}. Add it under redis.config.connections in config/plugins, or use one of those names.`,
    );
  }
}

/**
 * A bounded command failed because the connection is not usable: refused before it was sent (the
 * connection is not ready; it never waits in ioredis' offline queue), refused before it was sent
 * because an earlier command on the same link is still unanswered past its bound (`unanswered`:
 * a hung server; it would have waited behind that one), or, with `inFlight`, failed because the
 * connection closed while the command was in flight (its outcome is then unknown).
 */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'REDIS_SUITE_UNAVAILABLE';
  /** True when the command had been sent and the connection closed before it was answered. */
  readonly inFlight: boolean;
  /** Set when the command was not sent because an earlier one on the link timed out and is still unanswered. */
  readonly unanswered: { readonly forMs: number; readonly timeoutMs: number } | undefined;

  constructor(
    readonly connection: string,
    readonly state: string,
    options?: { cause?: unknown; inFlight?: boolean; unanswered?: { forMs: number; timeoutMs: number } },
  ) {
    const unanswered = options?.unanswered;
    super(
      options?.inFlight
        ? `Redis connection "${connection}" closed while the command was in flight (state: ${state}); its outcome is unknown: ioredis may resend it after reconnecting.`
        : unanswered
          ? `Redis connection "${connection}" has not answered a command sent ${unanswered.forMs} ms ago (its bound was ${unanswered.timeoutMs} ms); the command was not sent: commands fail at once until the server answers or the connection is made again.`
          : `Redis connection "${connection}" is not ready (state: ${state}); the command was not sent.`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.inFlight = options?.inFlight === true;
    this.unanswered = unanswered === undefined ? undefined : Object.freeze({ ...unanswered });
  }
}

/** A request-path command took longer than the connection's `requestTimeout`. */
export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError';
  readonly code = 'REDIS_SUITE_TIMEOUT';

  constructor(
    readonly connection: string,
    readonly timeoutMs: number,
  ) {
    super(`Redis connection "${connection}" did not answer within ${timeoutMs} ms (redis.connections.${connection}.requestTimeout).`);
  }
}

/** Boot was asked to wait for a `required` connection and it did not become ready in time. */
export class RedisNotReadyError extends Error {
  override readonly name = 'RedisNotReadyError';
  readonly code = 'REDIS_SUITE_NOT_READY';

  constructor(
    readonly connection: string,
    readonly timeoutMs: number,
    readonly state: string,
    readonly lastError?: string,
  ) {
    super(
      `Redis connection "${connection}" was not ready after ${timeoutMs} ms (state: ${state}${lastError ? `, last error: ${lastError}` : ''}). ` +
        `It is marked required (redis.connections.${connection}.required: true), so boot stops. ` +
        `Check that the server is reachable, raise readyTimeout, or set required: false to boot without it.`,
    );
  }
}

function list(names: readonly string[]): string {
  return names.length ? names.map((n) => `"${n}"`).join(', ') : '(none)';
}
