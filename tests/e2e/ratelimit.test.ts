/**
 * Rate limiting in a real Strapi 5 app (the packed plugin in the playground, child processes):
 * - the koa2-ratelimit copy the plugin resolves is the one Strapi's limiters load (npm deduped it);
 * - a `RedisRateLimitStore` given to `config/admin` `rateLimit.store` and to users-permissions'
 *   `ratelimit.store` is really used: two instances share one count;
 * - `plugin::redis.rateLimit` in `config/middlewares`: shared across instances, Strapi's error
 *   format, headers, and a spoofed X-Forwarded-For does not escape it while `server.proxy` is off;
 * - an invalid middleware config stops boot, naming the option; so do two limiters that would count
 *   into the same keys with other limits, naming both.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomPrefix } from '../harness/servers.js';
import { ensurePlaygroundInstalled, ROOT_DIR, startApp, type AppHandle } from './app.js';

const redis = inject('redis');
const PLAYGROUND_MODULES = path.join(ROOT_DIR, 'playground', 'node_modules');
const keyPrefix = randomPrefix('e2e-rl');
const EMAIL = 'nobody@example.com';
const BOOT_MS = 240_000;

let configDir: string;
let a: AppHandle;
let b: AppHandle;
let badBoot: AppHandle;
let sharedBoot: AppHandle;
let client: Redis;

/** A config module that builds a store the way a user's config/admin.ts does: importing the package from the app. */
const storeModule = (prefix: string): string => `'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');
const suite = createRequire(path.join(process.cwd(), 'package.json'))('strapi-plugin-redis-suite');
if (typeof suite.RedisRateLimitStore !== 'function') throw new Error('strapi-plugin-redis-suite does not export RedisRateLimitStore');
module.exports = { store: new suite.RedisRateLimitStore({ connection: 'default', keyPrefix: ${JSON.stringify(prefix)} }) };
`;

const middlewaresModule = (...configs: object[]): string => `'use strict';
module.exports = (defaults) => [...defaults, ${configs.map((c) => `{ name: 'plugin::redis.rateLimit', config: ${JSON.stringify(c)} }`).join(', ')}];
`;

async function post(url: string, body: object): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-e2e-rl-'));
  const file = (name: string, source: string): string => {
    const p = path.join(configDir, name);
    fs.writeFileSync(p, source);
    return p;
  };
  const env = {
    ADMIN_RATELIMIT_CONFIG: file('admin-ratelimit.js', storeModule(`${keyPrefix}admin:`)),
    UP_RATELIMIT_CONFIG: file('up-ratelimit.js', storeModule(`${keyPrefix}up:`)),
  };
  const middlewares = middlewaresModule({ connection: 'default', keyPrefix, prefixKey: 'articles', max: 3, interval: 60_000, paths: ['/api/articles'] });
  client = new Redis(redis.standalone.url);
  // Both instances and the boot failures start together (a 2-core machine: about 15-25 s when quiet,
  // minutes when other work shares it: each boot may take up to BOOT_MS).
  [a, b, badBoot, sharedBoot] = await Promise.all([
    startApp({ redisUrl: redis.standalone.url, middlewares, env, readyTimeoutMs: BOOT_MS }),
    startApp({ redisUrl: redis.standalone.url, middlewares, env, readyTimeoutMs: BOOT_MS }),
    startApp({
      redisUrl: redis.standalone.url,
      middlewares: middlewaresModule({ max: -1, intervall: 1000 }),
      expectBootFailure: true,
      readyTimeoutMs: BOOT_MS,
    }),
    // an API limiter and a login limiter, both on the default prefixKey: they would share counts
    startApp({
      redisUrl: redis.standalone.url,
      middlewares: middlewaresModule({ keyPrefix, interval: { min: 1 }, max: 100 }, { keyPrefix, interval: { min: 15 }, max: 5, paths: ['/api/auth'] }),
      expectBootFailure: true,
      readyTimeoutMs: BOOT_MS,
    }),
  ]);
}, 300_000); // four Strapi boots on a shared 2-core machine

afterAll(async () => {
  await Promise.all([a, b, badBoot, sharedBoot].filter(Boolean).map((app) => app.stop()));
  client?.disconnect();
  if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
});

describe('one koa2-ratelimit for Strapi and the plugin', () => {
  it('the copy the installed plugin resolves is the file Strapi admin and users-permissions resolve', () => {
    const req = createRequire(path.join(PLAYGROUND_MODULES, 'package.json'));
    const koa2From = (pkg: string): string => {
      const dir = path.dirname(req.resolve(`${pkg}/package.json`));
      return fs.realpathSync(req.resolve('koa2-ratelimit', { paths: [dir] }));
    };
    const ours = koa2From('strapi-plugin-redis-suite');
    expect(ours).toBe(koa2From('@strapi/admin'));
    expect(ours).toBe(koa2From('@strapi/plugin-users-permissions'));
    expect(JSON.parse(fs.readFileSync(path.join(path.dirname(ours), '..', 'package.json'), 'utf8')).version).toBe('1.1.3');
  });
});

describe('the packed package, CommonJS and ESM in one process', () => {
  it('limiters built through either build are checked against each other for shared keys (the state lives on globalThis)', async () => {
    // e.g. a limiter built in an ESM config file and one built by the plugin, which Strapi loads with require
    const req = createRequire(path.join(PLAYGROUND_MODULES, 'package.json'));
    const cjs = req('strapi-plugin-redis-suite');
    const esm = await import(pathToFileURL(path.join(PLAYGROUND_MODULES, 'strapi-plugin-redis-suite', 'dist', 'index.mjs')).href);
    expect(esm.rateLimit).not.toBe(cjs.rateLimit); // two copies of the code
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const registry = cjs.createRedisRegistry({ connections: { default: { connection: redis.standalone.url } } }, { logger: quiet });
    try {
      const prefix = randomPrefix('e2e-rl-dual');
      cjs.rateLimit({ registry, keyPrefix: prefix, max: 100 });
      expect(() => esm.rateLimit({ registry, keyPrefix: prefix, max: 5 })).toThrow(
        /options\.prefixKey: got "global" \(the default\).*already counted by rateLimit\(\) at .*ratelimit\.test\.ts/s,
      );
      expect(() => esm.rateLimit({ registry, keyPrefix: prefix, max: 100 })).not.toThrow(); // the same limits: one shared count
    } finally {
      await registry.close();
    }
  });
});

describe("Strapi's own limiters with RedisRateLimitStore: two instances share the count", () => {
  it('admin login: 5 failed logins on A, then B answers 429', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await post(`${a.url}/admin/login`, { email: EMAIL, password: 'wrong' });
      expect(res.status).toBe(400); // wrong credentials, counted
    }
    const refused = await post(`${b.url}/admin/login`, { email: EMAIL, password: 'wrong' });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ data: null, error: { status: 429, name: 'RateLimitError' } });
    // Strapi's key, under our prefix, with a TTL
    const key = `${keyPrefix}admin:${EMAIL}:/admin/login:127.0.0.1|127.0.0.1`;
    expect(await client.get(key)).toBe('6');
    expect(await client.pttl(key)).toBeGreaterThan(0);
  });

  it('users-permissions /api/auth/local (its default: 10 a minute): 10 failed logins on A, then B answers 429', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await post(`${a.url}/api/auth/local`, { identifier: 'nobody', password: 'wrong' });
      expect(res.status).toBe(400);
    }
    const refused = await post(`${b.url}/api/auth/local`, { identifier: 'nobody', password: 'wrong' });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ data: null, error: { status: 429, name: 'RateLimitError' } });
    expect(Number(await client.get(`${keyPrefix}up:noIdentifier:/api/auth/local:127.0.0.1|127.0.0.1`))).toBe(11);
  });
});

describe('plugin::redis.rateLimit in config/middlewares', () => {
  it("counts across instances, sends the headers, answers in Strapi's error format, and ignores X-Forwarded-For with server.proxy off", async () => {
    const first = await get(`${a.url}/api/articles`);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('3');
    expect(first.headers.get('ratelimit-remaining')).toBe('2');
    expect(Number(first.headers.get('ratelimit-reset'))).toBeGreaterThanOrEqual(59);
    expect(Number(first.headers.get('ratelimit-reset'))).toBeLessThanOrEqual(60);
    expect((await get(`${b.url}/api/articles`)).headers.get('ratelimit-remaining')).toBe('1');
    expect((await get(`${a.url}/api/articles`)).headers.get('ratelimit-remaining')).toBe('0');

    const limited = await get(`${b.url}/api/articles`);
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      data: null,
      error: { status: 429, name: 'RateLimitError', message: 'Too many requests, please try again later.', details: {} },
    });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // server.proxy.koa is off: a client cannot pick a fresh bucket with a header
    expect((await get(`${b.url}/api/articles`, { 'X-Forwarded-For': '198.51.100.7' })).status).toBe(429);
    // other paths are not counted
    const other = await get(`${a.url}/api/redis-demo/status`);
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit-limit')).toBeNull();

    const key = `${keyPrefix}articles:ip:127.0.0.1`;
    expect(await client.get(key)).toBe('5');
    expect(await client.pttl(key)).toBeGreaterThan(0);
  });

  it('an invalid config stops boot, naming each option', async () => {
    const exit = await badBoot.exited;
    expect(exit.code).not.toBe(0);
    const logs = badBoot.logs();
    expect(logs).toMatch(/Invalid config of plugin::redis\.rateLimit/);
    expect(logs).toMatch(/config\.max: got -1 \(number\); expected an integer >= 0/);
    expect(logs).toMatch(/config\.intervall: got 1000 \(number\); expected no such option \(did you mean "interval"\?\)/);
  });

  it('two limiters with other limits on the same keys (the default prefixKey) stop boot, naming both entries of config/middlewares', async () => {
    const exit = await sharedBoot.exited;
    expect(exit.code).not.toBe(0);
    const logs = sharedBoot.logs();
    expect(logs).toMatch(/Invalid config of plugin::redis\.rateLimit/);
    expect(logs).toMatch(/config\.prefixKey: got "global" \(the default\)/);
    expect(logs).toMatch(/plugin::redis\.rateLimit in config\/middlewares \(entry 11\) with interval 60000 ms, max 100/);
    expect(logs).toMatch(/plugin::redis\.rateLimit in config\/middlewares \(entry 12\) with interval 900000 ms, max 5/);
    expect(logs).toMatch(/give each limiter its own prefixKey/);
  });
});
