/**
 * The lock, cron-task and Socket.IO adapter options are checked by their schemas (issue #19): a
 * wrong value is a RedisSuiteConfigError naming the option, its value and what is expected, not a
 * value used as it came (a lock held for NaN ms, a cron TTL silently replaced, an unknown mode
 * read as "auto").
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CronGuard, RedisSuiteConfigError, createRedisRegistry, createSocketIoAdapter, type RedisRegistry } from '../../src/index.js';
import { createSuiteLog } from '../../src/core/logger.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';

const redis = inject('redis');
let registry: RedisRegistry;

beforeAll(async () => {
  registry = createRedisRegistry({ connections: { main: { connection: redis.standalone.url } } }, { logger: captureLogger() });
  await registry.waitUntilReady();
});
afterAll(async () => {
  await registry?.close();
});

/** The error `run` throws (or rejects with). */
async function errorOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, got none');
}

describe('lock options', () => {
  it('a ttl that is not a number of ms, and an unknown option, are one error naming both', async () => {
    const err = await errorOf(() => registry.locks.acquire(`t:${randomPrefix('opt')}`, { ttl: '5s', retries: 3 } as never));
    expect(err).toBeInstanceOf(RedisSuiteConfigError);
    const issues = (err as RedisSuiteConfigError).issues;
    expect(issues.map((i) => i.path)).toEqual(['options.ttl', 'options.retries']);
    expect(issues[0]!.got).toContain('"5s"');
    expect(issues[0]!.expected).toContain('settings.lockTTL');
    expect((err as Error).message).toContain('options of acquire()');
  });

  it('valid options still lock', async () => {
    const held = await registry.locks.acquire(`t:${randomPrefix('opt')}`, { ttl: 2000, wait: false, fence: false });
    expect(held.resources).toHaveLength(1);
    await held.release();
  });
});

describe('cron task options', () => {
  const guard = () => new CronGuard({ locks: registry.locks, log: createSuiteLog(captureLogger(), 'cron'), lockTTL: 1000 });

  it('a lockTTL given as text stops the add() (boot) naming the task and the option', async () => {
    const err = await errorOf(() => guard().wrap('nightly', { task: async () => undefined, options: { rule: '0 0 * * *' }, lockTTL: '10s' }, {}));
    expect(err).toBeInstanceOf(RedisSuiteConfigError);
    const [issue] = (err as RedisSuiteConfigError).issues;
    expect(issue!.path).toBe('cron.tasks.nightly.lockTTL');
    expect(issue!.got).toContain('"10s"');
    expect((err as Error).message).toContain('cron task "nightly"');
  });

  it("Strapi's own keys (task, options) and the guard's valid ones pass", () => {
    const wrapped = guard().wrap(
      'hourly',
      { task: async () => undefined, options: { rule: '0 * * * *' }, allowOverlap: true, lockTTL: 5000, name: 'hourly-v2' },
      {},
    );
    expect(typeof (wrapped as { task: unknown }).task).toBe('function');
  });
});

describe('Socket.IO adapter options', () => {
  it('an unknown mode is refused with the modes there are', async () => {
    const err = await errorOf(() => createSocketIoAdapter({ registry, connection: 'main', mode: 'fast' as never }));
    expect(err).toBeInstanceOf(RedisSuiteConfigError);
    const [issue] = (err as RedisSuiteConfigError).issues;
    expect(issue!.path).toBe('options.mode');
    expect(issue!.expected).toBe('"auto", "classic" or "sharded"');
  });

  it('a misspelt option gets a did-you-mean', async () => {
    const err = await errorOf(() => createSocketIoAdapter({ registry, connection: 'main', kye: 'x' } as never));
    expect((err as RedisSuiteConfigError).issues[0]!.expected).toContain('did you mean "key"?');
  });
});
