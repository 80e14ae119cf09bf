import { afterEach } from 'vitest';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { captureLogger } from './logger.js';

/**
 * `createRedisRegistry` for tests: a quiet logger unless one is given, and every registry made
 * is closed after each test of the calling file.
 */
export function registriesClosedAfterEach(): (...args: Parameters<typeof createRedisRegistry>) => RedisRegistry {
  const open: RedisRegistry[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });
  return (config, options) => {
    const r = createRedisRegistry(config, options ?? { logger: captureLogger() });
    open.push(r);
    return r;
  };
}
