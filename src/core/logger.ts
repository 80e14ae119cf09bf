/**
 * Logging. Warnings and errors go to the host logger (Strapi's `strapi.log`, or `console` in a
 * plain Koa app). Debug lines go to the `debug` package under `redis-suite:*` (`DEBUG=redis-suite:*`)
 * and, when `settings.debug` is on, to the host logger at info level. Every line is scrubbed of
 * known secrets; ioredis' own debug output (`DEBUG=ioredis:*`, or `settings.debugIORedis`) too.
 */
import { format } from 'node:util';
import createDebug from 'debug';
import { redactText } from './redact.js';

/** The logger shape the suite writes to: Strapi's logger and `console` both fit. */
export interface RedisLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const DEBUG_NAMESPACE = 'redis-suite';

/** A scoped logger: `debug` honours `DEBUG=` and the `debug` setting; all output is redacted. */
export interface SuiteLog extends RedisLogger {
  readonly debugEnabled: boolean;
}

export function createSuiteLog(host: RedisLogger, scope: string, verbose = false): SuiteLog {
  const dbg = createDebug(`${DEBUG_NAMESPACE}:${scope}`);
  const prefix = `[redis] `;
  return {
    debugEnabled: verbose || dbg.enabled,
    debug(message) {
      const line = redactText(message);
      dbg(line);
      if (verbose) host.info(prefix + line);
    },
    info: (message) => host.info(prefix + redactText(message)),
    warn: (message) => host.warn(prefix + redactText(message)),
    error: (message) => host.error(prefix + redactText(message)),
  };
}

export const consoleLogger: RedisLogger = {
  debug: (m) => console.debug(m),
  info: (m) => console.info(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

let redacting = false;

/**
 * Scrub known secrets from everything the `debug` package prints: ioredis logs command arguments,
 * AUTH included. ioredis and the suite share one `debug` copy (both depend on debug 4, which npm
 * dedupes), so patching its `log` covers both.
 */
export function installDebugRedaction(): void {
  if (redacting) return;
  redacting = true;
  const original = createDebug.log;
  createDebug.log = function redactedLog(this: unknown, ...args: unknown[]) {
    return original.call(this, redactText(format(...(args as [unknown, ...unknown[]]))));
  };
}

/** Turn on ioredis' debug output (v2's `debugIORedis`), keeping whatever `DEBUG` already enables. */
export function enableIORedisDebug(): void {
  const list = (process.env.DEBUG ?? '').split(',').filter(Boolean);
  if (!list.includes('ioredis:*')) list.push('ioredis:*');
  createDebug.enable(list.join(','));
}
