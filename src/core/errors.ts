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

/** Thrown at boot (by the plugin's `config.validator`) or by `createRedisRegistry` for an invalid config. */
export class RedisConfigError extends Error {
  override readonly name = 'RedisConfigError';
  readonly code = 'REDIS_SUITE_CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.path}: got ${i.got}; expected ${i.expected}`);
    super(
      `Invalid Redis plugin config (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    );
    this.issues = Object.freeze([...issues]);
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

/** A request-path command was refused because the connection is not ready (it never waits in ioredis' offline queue). */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'REDIS_SUITE_UNAVAILABLE';

  constructor(
    readonly connection: string,
    readonly state: string,
    options?: { cause?: unknown },
  ) {
    super(`Redis connection "${connection}" is not ready (state: ${state}); the command was not sent.`, options);
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
    super(
      `Redis connection "${connection}" did not answer within ${timeoutMs} ms (redis.connections.${connection}.requestTimeout).`,
    );
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
