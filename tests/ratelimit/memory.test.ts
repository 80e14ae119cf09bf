/**
 * The limiter's in-process maps (issue #13 item 10): the `onError: 'memory'` counters and the
 * `inMemoryBlock` list are capped (least recently used dropped first, `memoryMaxKeys`), swept by a
 * timer while they hold something (so expired keys go without further traffic), and that timer
 * never keeps the process alive. Redis failing for the fallback is a connection to a port nothing
 * listens on: every call is refused at once, as during a real outage.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { build } from 'esbuild';
import Koa from 'koa';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { rateLimit, type RateLimitMiddleware, type RateLimitOptions } from '../../src/middlewares/rate-limit/index.js';
import { limiterMemory } from '../../src/middlewares/rate-limit/middleware.js';
import { ExpiringLru } from '../../src/middlewares/rate-limit/memory.js';
import { resolveRateLimitOptions } from '../../src/middlewares/rate-limit/options.js';
import { freePort, randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { request, until } from './helpers.js';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const redis = inject('redis');
let live: RedisRegistry;
let dead: RedisRegistry;
let deadPort: number;

beforeAll(async () => {
  deadPort = await freePort();
  live = createRedisRegistry({ connections: { default: { connection: redis.standalone.url } } }, { logger: captureLogger() });
  dead = createRedisRegistry({ connections: { default: { connection: { host: '127.0.0.1', port: deadPort } } } }, { logger: captureLogger() });
  await live.waitUntilReady();
});
afterAll(async () => {
  await Promise.all([live?.close(), dead?.close()]);
});

/** A Koa app around `mw`; the bucket is the `x-key` header (keyGenerator). */
function appOf(mw: RateLimitMiddleware): Koa {
  const koa = new Koa();
  koa.silent = true;
  koa.use(mw as Koa.Middleware);
  koa.use((ctx) => {
    ctx.body = 'ok';
  });
  return koa;
}
const byHeader = { keyGenerator: (ctx: { get?: (h: string) => string }) => ctx.get!('x-key') } as unknown as Pick<RateLimitOptions, 'keyGenerator'>;

describe('ExpiringLru', () => {
  it('holds at most maxKeys, dropping the least recently used (a read counts as a use)', () => {
    const lru = new ExpiringLru<{ expiresAt: number; v: number }>(3, 60_000);
    const far = performance.now() + 60_000;
    for (const k of ['a', 'b', 'c']) lru.set(k, { expiresAt: far, v: 1 });
    expect(lru.get('a')?.v).toBe(1); // a is now the most recent: b is the oldest
    lru.set('d', { expiresAt: far, v: 2 });
    expect(lru.size).toBe(3);
    expect(lru.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => lru.get(k)?.v)).toEqual([1, 1, 2]);
    lru.clear();
    expect(lru.size).toBe(0);
    expect(lru.sweeping).toBe(false);
  });

  it('an expired entry is never returned; the sweep timer runs only while entries are held and drops them unread', async () => {
    const lru = new ExpiringLru<{ expiresAt: number }>(100, 50);
    expect(lru.sweeping).toBe(false);
    lru.set('soon', { expiresAt: performance.now() + 100 });
    lru.set('later', { expiresAt: performance.now() + 250 });
    expect(lru.sweeping).toBe(true);
    await until(() => lru.size === 1, 3000, 'the first entry to be swept');
    await until(() => lru.size === 0, 3000, 'the second entry to be swept');
    expect(lru.sweeping).toBe(false); // nothing held: no timer
    lru.set('gone', { expiresAt: performance.now() - 1 });
    expect(lru.get('gone')).toBeUndefined();
    expect(lru.sweeping).toBe(false);
  });
});

describe("onError: 'memory' counters", () => {
  it('are capped by memoryMaxKeys, the least recently used dropped first; the default cap is 10000', async () => {
    const mw = rateLimit({
      registry: dead,
      keyPrefix: randomPrefix('rlm'),
      onError: 'memory',
      max: 3,
      interval: 60_000,
      memoryMaxKeys: 25,
      logger: captureLogger(),
      ...byHeader,
    });
    const agent = request(appOf(mw).callback());
    await agent.get('/').set('x-key', 'busy').expect(200).expect('ratelimit-remaining', '2');
    for (let i = 0; i < 100; i++) {
      await agent.get('/').set('x-key', `flood-${i}`).expect(200);
      if (i % 10 === 0) await agent.get('/').set('x-key', 'busy'); // a client that keeps coming is kept
    }
    expect(limiterMemory(mw).fallback).toBe(25);
    // "busy" counted 1 + 10 times: over its max, still limited in memory
    await agent.get('/').set('x-key', 'busy').expect(429);
    // "flood-0" was dropped: it starts a new window
    await agent.get('/').set('x-key', 'flood-0').expect(200).expect('ratelimit-remaining', '2');
    expect(resolveRateLimitOptions({}, 'x', 'config').memoryMaxKeys).toBe(10_000);
  });

  it('expired windows are swept without further requests', async () => {
    const mw = rateLimit({ registry: dead, keyPrefix: randomPrefix('rlm'), onError: 'memory', max: 3, interval: 300, logger: captureLogger(), ...byHeader });
    const agent = request(appOf(mw).callback());
    for (let i = 0; i < 10; i++) await agent.get('/').set('x-key', `k${i}`).expect(200);
    expect(limiterMemory(mw).fallback).toBeGreaterThan(0); // (a loaded machine may have expired the first ones already)
    await until(() => limiterMemory(mw).fallback === 0, 5000, 'the expired counters to be swept');
  });
});

describe('inMemoryBlock', () => {
  it('is capped by memoryMaxKeys (the oldest blocks dropped: those keys are answered by Redis again, still limited)', async () => {
    const mw = rateLimit({ registry: live, keyPrefix: randomPrefix('rlm'), max: 1, interval: 60_000, inMemoryBlock: true, memoryMaxKeys: 5, ...byHeader });
    const agent = request(appOf(mw).callback());
    for (let i = 0; i < 20; i++) {
      await agent.get('/').set('x-key', `k${i}`).expect(200);
      await agent.get('/').set('x-key', `k${i}`).expect(429);
    }
    expect(limiterMemory(mw).blocked).toBe(5);
    await agent.get('/').set('x-key', 'k0').expect(429); // dropped from memory, refused by the count in Redis
  });

  it('expired blocks are swept without further requests', async () => {
    const mw = rateLimit({ registry: live, keyPrefix: randomPrefix('rlm'), max: 1, interval: 300, inMemoryBlock: true, ...byHeader });
    const agent = request(appOf(mw).callback());
    for (let i = 0; i < 10; i++) {
      await agent.get('/').set('x-key', `k${i}`).expect(200);
      await agent.get('/').set('x-key', `k${i}`).expect(429);
    }
    expect(limiterMemory(mw).blocked).toBeGreaterThan(0);
    await until(() => limiterMemory(mw).blocked === 0, 5000, 'the expired blocks to be swept');
  });
});

describe('memoryMaxKeys validation', () => {
  it('must be an integer >= 1', () => {
    for (const bad of [0, -5, 1.5, '100', false]) {
      expect(() => rateLimit({ registry: live, memoryMaxKeys: bad as never }), String(bad)).toThrow(/options\.memoryMaxKeys: got .*; expected an integer >= 1/);
    }
  });
});

describe('the sweep timer never keeps the process alive', () => {
  it('a process with entries in both maps exits by itself once its registry is closed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-rl-exit-'));
    try {
      const entry = path.join(dir, 'child.ts');
      const src = (p: string): string => JSON.stringify(path.join(ROOT, 'src', p));
      fs.writeFileSync(
        entry,
        `import { createRedisRegistry } from ${src('core/registry.ts')};
import { rateLimit, limiterMemory } from ${src('middlewares/rate-limit/middleware.ts')};
async function main(): Promise<void> {
const [url, deadPort] = process.argv.slice(2);
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const registry = createRedisRegistry(
  { connections: { live: { connection: url }, dead: { connection: { host: '127.0.0.1', port: Number(deadPort) } } } },
  { logger },
);
const ctx = (id: string): any => ({ ip: '127.0.0.1', path: '/', method: 'GET', status: 404, body: undefined, state: { id }, set() {} });
const keyGenerator = (c: any) => c.state.id;
const blocking = rateLimit({ registry, connection: 'live', keyPrefix: ${JSON.stringify(randomPrefix('rlx'))}, max: 1, interval: 600000, inMemoryBlock: true, keyGenerator, logger });
const fallback = rateLimit({ registry, connection: 'dead', onError: 'memory', max: 5, interval: 600000, keyGenerator, logger });
await registry.get('live').client.ping();
const next = async () => {};
await blocking(ctx('a'), next);
await blocking(ctx('a'), next);
await fallback(ctx('b'), next);
console.log(JSON.stringify({ blocked: limiterMemory(blocking).blocked, fallback: limiterMemory(fallback).fallback }));
await registry.close();
}
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
`,
      );
      const out = path.join(dir, 'child.cjs');
      await build({
        entryPoints: [entry],
        outfile: out,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        loader: { '.lua': 'text' },
        logLevel: 'error',
      });
      const started = performance.now();
      const { stdout } = await run(process.execPath, [out, redis.standalone.url, String(deadPort)], { timeout: 20_000 });
      const ms = performance.now() - started;
      expect(JSON.parse(stdout.trim())).toEqual({ blocked: 1, fallback: 1 });
      expect(ms).toBeLessThan(15_000); // the 10-minute windows did not keep it alive (killed at 20 s otherwise)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
