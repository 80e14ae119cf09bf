/**
 * Every Strapi 5.54 limiter on the shared store: `RedisRateLimitStore` given to each config path
 * Strapi's koa2-ratelimit limiters read, checked end to end across two real instances (one
 * PostgreSQL database, so a user exists on both): the requests a route allows are spent on A, and
 * B refuses the next one.
 *
 * | family            | config                                         | routes                                                  |
 * | admin             | config/admin `rateLimit.store`                 | /admin/login, /admin/register-admin                     |
 * | email             | config/plugins `email.config.ratelimit.store`  | /admin/forgot-password                                  |
 * | users-permissions | config/plugins `users-permissions.config.ratelimit.store` | /api/auth/local (and GraphQL `login`), /api/auth/local/register, /api/auth/forgot-password, /api/auth/reset-password, /api/auth/send-email-confirmation, /api/auth/change-password, /api/connect/* |
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../harness/postgres.js';
import { randomPrefix } from '../harness/servers.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from '../e2e/app.js';

const redis = inject('redis');
const prefix = randomPrefix('multi-rl');
const IP = '127.0.0.1';

let pg: PostgresHandle;
let client: Redis;
let configDir: string;
let a: AppHandle;
let b: AppHandle;
let userJwt: string;
let userId: number;

/** A config module building the store as a user's config file does: the package required from the app. */
const storeModule = (keyPrefix: string): string => `'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');
const suite = createRequire(path.join(process.cwd(), 'package.json'))('strapi-plugin-redis-suite');
module.exports = { store: new suite.RedisRateLimitStore({ connection: 'default', keyPrefix: ${JSON.stringify(keyPrefix)} }) };
`;

beforeAll(async () => {
  [pg] = await Promise.all([startPostgres(), ensurePlaygroundInstalled({ quiet: true })]);
  client = new Redis(redis.standalone.url);
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-multi-rl-'));
  const file = (name: string, source: string): string => {
    const p = path.join(configDir, name);
    fs.writeFileSync(p, source);
    return p;
  };
  const db = await pg.createDatabase('limiters');
  const opts = {
    redisUrl: redis.standalone.url,
    databaseUrl: pg.url(db),
    env: {
      ADMIN_RATELIMIT_CONFIG: file('admin.js', storeModule(`${prefix}admin:`)),
      EMAIL_RATELIMIT_CONFIG: file('email.js', storeModule(`${prefix}email:`)),
      UP_RATELIMIT_CONFIG: file('up.js', storeModule(`${prefix}up:`)),
      GRAPHQL_PLUGIN_CONFIG: file('graphql.js', "'use strict';\nmodule.exports = {};\n"),
    },
  };
  [a, b] = await Promise.all([startApp(opts), startApp(opts)]);
  // A user for the authenticated route (change-password); it spends one registration of A.
  const registered = await call(a, 'POST', '/api/auth/local/register', { username: 'limited', email: 'limited@example.com', password: 'Passw0rd-limited!' });
  expect(registered.status, JSON.stringify(registered.body)).toBe(200);
  userJwt = registered.body.jwt;
  userId = registered.body.user.id;
}, 240_000);

afterAll(async () => {
  await Promise.all([a, b].map((x) => (x?.isRunning() ? x.stop() : undefined)));
  client?.disconnect();
  await pg?.stop();
  if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
});

async function call(app: AppHandle, method: string, route: string, body?: object, jwt?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.url}${route}`, {
    method,
    redirect: 'manual',
    headers: { 'content-type': 'application/json', ...(jwt ? { authorization: `Bearer ${jwt}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

interface Route {
  family: 'admin' | 'email' | 'users-permissions';
  method: string;
  path: string;
  body?: object;
  auth?: boolean;
  /** Strapi's key for this request (before the store's keyPrefix): koa2-ratelimit ends it with `|<ip>`, or `|<user id>` when authenticated. */
  key: string | (() => string);
  max: number;
}

const ROUTES: Route[] = [
  {
    family: 'admin',
    method: 'POST',
    path: '/admin/login',
    body: { email: 'who@example.com', password: 'wrong' },
    key: `who@example.com:/admin/login:${IP}|${IP}`,
    max: 5,
  },
  {
    family: 'admin',
    method: 'POST',
    path: '/admin/register-admin',
    body: { email: 'who@example.com' },
    key: `who@example.com:/admin/register-admin:${IP}|${IP}`,
    max: 5,
  },
  { family: 'email', method: 'POST', path: '/admin/forgot-password', body: { email: 'who@example.com' }, key: `who@example.com|${IP}`, max: 5 },
  {
    family: 'users-permissions',
    method: 'POST',
    path: '/api/auth/local/register',
    body: { username: 'x' },
    key: `unknownIdentifier:/api/auth/local/register:${IP}|${IP}`,
    max: 10,
  },
  {
    family: 'users-permissions',
    method: 'POST',
    path: '/api/auth/forgot-password',
    body: { email: 'who@example.com' },
    key: `who@example.com:/api/auth/forgot-password:${IP}|${IP}`,
    max: 10,
  },
  {
    family: 'users-permissions',
    method: 'POST',
    path: '/api/auth/reset-password',
    body: { code: 'nope', password: 'Passw0rd-x!', passwordConfirmation: 'Passw0rd-x!' },
    key: `noIdentifier:/api/auth/reset-password:${IP}|${IP}`,
    max: 10,
  },
  {
    family: 'users-permissions',
    method: 'POST',
    path: '/api/auth/send-email-confirmation',
    body: { email: 'who@example.com' },
    key: `who@example.com:/api/auth/send-email-confirmation:${IP}|${IP}`,
    max: 10,
  },
  {
    family: 'users-permissions',
    method: 'POST',
    path: '/api/auth/change-password',
    auth: true,
    body: { currentPassword: 'wrong', password: 'Passw0rd-y!', passwordConfirmation: 'Passw0rd-y!' },
    key: () => `noIdentifier:/api/auth/change-password:${IP}|${userId}`,
    max: 10,
  },
  { family: 'users-permissions', method: 'GET', path: '/api/connect/github', key: `noIdentifier:/api/connect/github:${IP}|${IP}`, max: 10 },
];

const storeKey = (family: Route['family'], key: string | (() => string)): string =>
  `${prefix}${family === 'users-permissions' ? 'up' : family}:${typeof key === 'function' ? key() : key}`;

describe('every Strapi limiter on RedisRateLimitStore: what A allowed, B refuses', () => {
  it.each(ROUTES)('$family $method $path', async (route) => {
    const send = (app: AppHandle) => call(app, route.method, route.path, route.body, route.auth ? userJwt : undefined);
    const spent = Number((await client.get(storeKey(route.family, route.key))) ?? 0);
    for (let i = spent; i < route.max; i++) {
      const res = await send(a);
      expect(res.status, `request ${i + 1} on A: ${JSON.stringify(res.body)}`).not.toBe(429);
    }
    const refused = await send(b);
    expect(refused.status, JSON.stringify(refused.body)).toBe(429);
    expect(refused.body).toMatchObject({ data: null, error: { status: 429, name: 'RateLimitError' } });
    // The count is in Redis, under this family's store prefix, with a TTL.
    const key = storeKey(route.family, route.key);
    expect(Number(await client.get(key))).toBe(route.max + 1);
    expect(await client.pttl(key)).toBeGreaterThan(0);
  });

  it('users-permissions /api/auth/local: REST and GraphQL `login` share one bucket across instances', async () => {
    const rest = (app: AppHandle) => call(app, 'POST', '/api/auth/local', { identifier: 'nobody', password: 'wrong' });
    const gql = (app: AppHandle) => call(app, 'POST', '/graphql', { query: 'mutation { login(input: { identifier: "nobody", password: "wrong" }) { jwt } }' });
    for (let i = 0; i < 5; i++) expect((await rest(a)).status).toBe(400);
    for (let i = 0; i < 5; i++) {
      const res = await gql(a);
      expect(res.body.errors?.[0]?.extensions?.error?.name ?? res.body.errors?.[0]?.message, JSON.stringify(res.body)).not.toMatch(/RateLimit|Too many/i);
    }
    const refusedRest = await rest(b);
    expect(refusedRest.status).toBe(429);
    const refusedGql = await gql(b);
    expect(JSON.stringify(refusedGql.body)).toMatch(/RateLimitError|Too many requests/i);
    expect(Number(await client.get(storeKey('users-permissions', `noIdentifier:/api/auth/local:${IP}|${IP}`)))).toBe(12);
  });
});
