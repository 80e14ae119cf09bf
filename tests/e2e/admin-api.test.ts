/**
 * The admin API of the plugin in a real Strapi 5.54 (child process, packed plugin): every route
 * answers 401 without an admin token, 403 to an admin whose role lacks its action, and correct
 * data otherwise, on a standalone and a Cluster connection. A password canary (a server started
 * with requirepass, a connection using it) never appears in any response. Deletions are logged
 * with the admin's id. Issue 13 item 13: delete by pattern refuses the suite's own keys unless
 * named and confirmed (a `*` is sent only to a server this file starts), caps the pattern's
 * length; session values need `plugin::redis.keys.read-sessions`.
 */
import { hostname } from 'node:os';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from './app.js';

const redis = inject('redis');
const CANARY = 'Admin-Api-Canary-Secret-7731';
const p = randomPrefix('e2e-admin');
const cronTask = `admin-e2e-${p.split(':')[2]}`;
const ARTICLE_TAG = 'ct:api::article.article';

let app: AppHandle;
let secured: ServerHandle;
/** A server of this file's own: the target of patterns like `*` (never the shared one). */
let scratch: ServerHandle;
let scratchClient: Redis;
let standalone: Redis;
let cluster: Cluster;
/** Every response body the test saw, checked for the canary at the end. */
const bodies: string[] = [];

interface Answer {
  status: number;
  body: any;
  text: string;
}

async function call(method: string, path: string, token?: string, body?: object): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`${app.url}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  bodies.push(text);
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

async function ok(method: string, path: string, token: string, body?: object): Promise<any> {
  const res = await call(method, path, token, body);
  // Strapi answers 201 to the admin's own POSTs that create something (roles, users)
  expect(res.status === 200 || (res.status === 201 && path.startsWith('/admin/')), `${method} ${path}: ${res.status} ${res.text}`).toBe(true);
  return res.body.data;
}

const tokens: { superAdmin: string; reader: string; browser: string; sessionReader: string; none: string; superAdminId: number } = {} as never;

/** A role with exactly these actions, and a registered user in it; resolves with the user's token. */
async function userWithActions(name: string, actions: string[]): Promise<string> {
  const role = await ok('POST', '/admin/roles', tokens.superAdmin, { name: `${name} ${p}`, description: 'e2e' });
  await ok('PUT', `/admin/roles/${role.id}/permissions`, tokens.superAdmin, {
    permissions: actions.map((action) => ({ action, subject: null, properties: {}, conditions: [] })),
  });
  const email = `${name.toLowerCase()}-${Date.now()}@example.com`;
  const user = await ok('POST', '/admin/users', tokens.superAdmin, { firstname: name, lastname: 'E2e', email, roles: [role.id] });
  const registered = await ok('POST', '/admin/register', tokens.superAdmin, {
    registrationToken: user.registrationToken,
    userInfo: { firstname: name, lastname: 'E2e', password: 'Passw0rd-e2e!' },
  });
  return registered.token as string;
}

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
  [secured, scratch] = await Promise.all([startStandalone({ password: CANARY }), startStandalone()]);
  scratchClient = new Redis(scratch.url);
  standalone = new Redis(redis.standalone.url);
  cluster = new Cluster(redis.cluster.nodes);
  // generous bounds: on a loaded 2-core machine a 50 ms read bound (the default) turns hits into misses
  const cacheConfig = {
    connection: 'default',
    prefix: `${p}cache:`,
    maxAge: 60_000,
    readTimeout: 5000,
    writeTimeout: 5000,
    contentTypes: ['api::article.article'],
  };
  app = await startApp({
    pluginConfig: {
      settings: { enableRedlock: true, lockTTL: 2000 },
      connections: {
        default: { connection: redis.standalone.url },
        cluster: { connection: { nodes: redis.cluster.nodes } },
        secured: { connection: `redis://:${CANARY}@127.0.0.1:${secured.port}/2` },
        dead: { connection: { host: '127.0.0.1', port: 1, password: CANARY }, readyTimeout: 300 },
        scratch: { connection: scratch.url },
      },
    },
    middlewares: `module.exports = (defaults) => [
      ...defaults.map((m) => (m === 'strapi::session' ? { name: 'plugin::redis.session', config: { prefix: ${JSON.stringify(`${p}sess:`)}, secure: false } } : m)),
      { name: 'plugin::redis.cache', config: ${JSON.stringify(cacheConfig)} },
    ];`,
    cronTasks: `module.exports = { ${JSON.stringify(cronTask)}: { options: '* * * * * *', async task() {} } };`,
    readyTimeoutMs: 120_000,
  });
  const admin = await call('POST', '/admin/register-admin', undefined, {
    firstname: 'Root',
    lastname: 'E2e',
    email: 'root@example.com',
    password: 'Passw0rd-root!',
  });
  expect(admin.status, admin.text).toBe(200);
  tokens.superAdmin = admin.body.data.token;
  tokens.superAdminId = admin.body.data.user.id;
  tokens.reader = await userWithActions('Reader', ['plugin::redis.read']);
  tokens.browser = await userWithActions('Browser', ['plugin::redis.read', 'plugin::redis.keys.read']);
  tokens.sessionReader = await userWithActions('SessionReader', ['plugin::redis.read', 'plugin::redis.keys.read', 'plugin::redis.keys.read-sessions']);
  tokens.none = await userWithActions('Nobody', []);
}, 240_000);

afterAll(async () => {
  if (app?.isRunning()) await app.stop();
  await secured?.stop();
  scratchClient?.disconnect();
  await scratch?.stop();
  for (const client of [standalone, cluster]) {
    if (!client) continue;
    const keys = await scanAll(client, `${p}*`);
    await Promise.all(keys.map((k) => client.unlink(k)));
    await client.unlink(`cron:last:${cronTask}`);
    client.disconnect();
  }
});

async function scanAll(client: Redis | Cluster, pattern: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const out: string[] = [];
  for (const n of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await n.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out;
}

const enc = encodeURIComponent;

// Every route, the action it needs, and a request that is valid for it.
const routes: { method: string; path: () => string; action: 'read' | 'keys.read' | 'keys.delete' | 'cache.purge'; body?: object }[] = [
  { method: 'GET', path: () => '/redis/connections', action: 'read' },
  { method: 'GET', path: () => '/redis/connections/default/server', action: 'read' },
  { method: 'GET', path: () => `/redis/connections/default/keys?pattern=${enc(`${p}*`)}`, action: 'keys.read' },
  { method: 'GET', path: () => `/redis/connections/default/key?key=${enc(`${p}rbac`)}`, action: 'keys.read' },
  { method: 'DELETE', path: () => `/redis/connections/default/key?key=${enc(`${p}rbac`)}`, action: 'keys.delete' },
  { method: 'POST', path: () => '/redis/connections/default/keys/delete', action: 'keys.delete', body: { pattern: `${p}rbac*`, confirm: `${p}rbac*` } },
  { method: 'GET', path: () => '/redis/cache', action: 'read' },
  { method: 'POST', path: () => '/redis/cache/purge', action: 'cache.purge', body: { tag: ARTICLE_TAG } },
  { method: 'GET', path: () => '/redis/cron', action: 'read' },
  { method: 'GET', path: () => '/redis/stats', action: 'read' },
];

describe('RBAC on every route', () => {
  it('registers the six actions with Strapi (section plugins, plugin redis)', async () => {
    const data = await ok('GET', '/admin/permissions', tokens.superAdmin);
    const plugins = JSON.stringify(data.sections.plugins);
    for (const action of [
      'plugin::redis.read',
      'plugin::redis.keys.read',
      'plugin::redis.keys.delete',
      'plugin::redis.keys.edit',
      'plugin::redis.cache.purge',
      'plugin::redis.keys.read-sessions',
    ]) {
      expect(plugins).toContain(`"action":"${action}"`);
    }
  });

  it.each(routes)('$method $action: 401 without a token, 403 without the action, 200 with it', async (route) => {
    await standalone.set(`${p}rbac`, 'x');
    expect((await call(route.method, route.path(), undefined, route.body)).status).toBe(401);
    expect((await call(route.method, route.path(), 'not-a-jwt', route.body)).status).toBe(401);
    const denied = await call(route.method, route.path(), tokens.none, route.body);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ data: null, error: { status: 403, name: 'PolicyError' } });
    // reader: only plugin::redis.read; browser: read + keys.read
    expect((await call(route.method, route.path(), tokens.reader, route.body)).status).toBe(route.action === 'read' ? 200 : 403);
    expect((await call(route.method, route.path(), tokens.browser, route.body)).status).toBe(
      route.action === 'read' || route.action === 'keys.read' ? 200 : 403,
    );
    expect((await call(route.method, route.path(), tokens.superAdmin, route.body)).status).toBe(200);
  });
});

describe('data', () => {
  it('connections: state, endpoints without secrets, nodes and the features that use each', async () => {
    const data = await ok('GET', '/redis/connections', tokens.reader);
    const byName = Object.fromEntries(data.map((c: { name: string }) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['cluster', 'dead', 'default', 'scratch', 'secured']);
    expect(byName.default).toMatchObject({ topology: 'standalone', ready: true, state: 'ready', nodes: [{ address: `127.0.0.1:${redis.standalone.port}` }] });
    // the lock quorum (default: the first connection) runs the cron guard and the cache middleware uses it
    expect(byName.default.features).toEqual(['locks', 'cron', 'session', 'cache']);
    expect(byName.cluster).toMatchObject({ topology: 'cluster', ready: true, features: [] });
    expect(byName.cluster.nodes).toHaveLength(6);
    expect(byName.secured).toMatchObject({ ready: true, endpoint: expect.stringContaining(':***@') });
    expect(byName.dead).toMatchObject({ ready: false, pingMs: null });
  });

  it('server: INFO per node, standalone and Cluster; a dead connection is a 503', async () => {
    const own = await ok('GET', '/redis/connections/default/server', tokens.reader);
    expect(own).toMatchObject({ connection: 'default', topology: 'standalone', nodes: [{ address: `127.0.0.1:${redis.standalone.port}`, role: 'master' }] });
    expect(own.nodes[0].info.keys).toBe(await standalone.dbsize());
    const c = await ok('GET', '/redis/connections/cluster/server', tokens.reader);
    expect(c.nodes).toHaveLength(6);
    expect(c.nodes.filter((n: { role: string; info: { role: string } | null }) => n.role === 'master' && n.info?.role === 'master')).toHaveLength(3);
    const dead = await call('GET', '/redis/connections/dead/server', tokens.reader);
    expect(dead.status).toBe(503);
    expect(dead.body).toMatchObject({
      data: null,
      error: { status: 503, name: 'ServiceUnavailableError', message: expect.stringContaining('"dead" is not ready') },
    });
    // the key routes too: at once, not after a hang
    const started = Date.now();
    const deadKeys = await call('GET', '/redis/connections/dead/keys', tokens.browser);
    expect(deadKeys.status).toBe(503);
    expect(deadKeys.body.error.message).toContain('"dead" is not ready');
    expect((await call('DELETE', `/redis/connections/dead/key?key=x`, tokens.superAdmin)).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await call('GET', '/redis/connections/nope/keys', tokens.browser)).status).toBe(404);
    const unknown = await call('GET', '/redis/connections/nope/server', tokens.reader);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/"cluster".*"dead".*"default".*"scratch".*"secured"|configured connections/);
  });

  it.each(['default', 'cluster'])(
    'keys on %s: a paged walk lists every key once; values; delete one and by pattern (logged with the admin id)',
    async (name) => {
      const client = name === 'default' ? standalone : cluster;
      const base = `${p}${name}:`;
      await Promise.all(Array.from({ length: 150 }, (_, i) => client.set(`${base}k:${i}`, String(i))));
      await client.hset(`${base}h`, 'f', 'v');
      const seen: string[] = [];
      let cursor: string | null = '0';
      while (cursor !== null) {
        const page: { keys: { key: string; type: string }[]; cursor: string | null } = await ok(
          'GET',
          `/redis/connections/${name}/keys?pattern=${enc(`${base}k:*`)}&count=20&cursor=${enc(cursor)}`,
          tokens.browser,
        );
        seen.push(...page.keys.map((k) => k.key));
        cursor = page.cursor;
      }
      expect(seen.length).toBe(150);
      expect(new Set(seen).size).toBe(150);
      expect(await ok('GET', `/redis/connections/${name}/key?key=${enc(`${base}k:7`)}`, tokens.browser)).toMatchObject({
        key: `${base}k:7`,
        type: 'string',
        value: '7',
        encoding: 'utf8',
        truncated: false,
        ttlMs: -1,
      });
      expect(await ok('GET', `/redis/connections/${name}/key?key=${enc(`${base}h`)}`, tokens.browser)).toMatchObject({
        type: 'hash',
        value: [['f', 'v']],
        length: 1,
      });
      expect((await call('GET', `/redis/connections/${name}/keys?count=5000`, tokens.browser)).body.error).toMatchObject({
        status: 400,
        message: expect.stringMatching(/^count: /),
      });

      expect(await ok('DELETE', `/redis/connections/${name}/key?key=${enc(`${base}h`)}`, tokens.superAdmin)).toEqual({ deleted: 1 });
      expect(await client.exists(`${base}h`)).toBe(0);
      const mismatch = await call('POST', `/redis/connections/${name}/keys/delete`, tokens.superAdmin, { pattern: `${base}k:1*`, confirm: `${base}k:*` });
      expect(mismatch.status).toBe(400);
      expect(mismatch.body.error.message).toMatch(/^confirm: /);
      // k:1, k:10..k:19, k:100..k:149: 1 + 10 + 50
      expect(await ok('POST', `/redis/connections/${name}/keys/delete`, tokens.superAdmin, { pattern: `${base}k:1*`, confirm: `${base}k:1*` })).toEqual({
        deleted: 61,
        complete: true,
        elapsedMs: expect.any(Number),
      });
      expect((await scanAll(client, `${base}k:*`)).length).toBe(89);
      await waitFor(
        () => app.logs().includes(`[redis] admin ${tokens.superAdminId} deleted keys matching "${base}k:1*" on connection "${name}" (61 removed)`),
        10_000,
        'the deletion log line',
      );
      expect(app.logs()).toContain(`[redis] admin ${tokens.superAdminId} deleted key "${base}h" on connection "${name}" (1 removed)`);
    },
  );

  it('the password-protected connection works through the API', async () => {
    const direct = new Redis({ host: '127.0.0.1', port: secured.port, password: CANARY, db: 2 });
    await direct.set(`${p}sec`, 'v');
    direct.disconnect();
    const page = await ok('GET', `/redis/connections/secured/keys?pattern=${enc(`${p}*`)}`, tokens.browser);
    expect(page).toEqual({ keys: [{ key: `${p}sec`, type: 'string', ttlMs: -1, size: expect.any(Number), length: 1 }], cursor: null });
    const server = await ok('GET', '/redis/connections/secured/server', tokens.reader);
    expect(server.nodes[0].info.role).toBe('master');
  });

  it('cache: the content type tag with its entry count; purge by tag and all', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${app.url}/api/articles?pagination[page]=${i + 1}`);
      expect(res.status).toBe(200);
    }
    const view = await ok('GET', '/redis/cache', tokens.reader);
    expect(view).toEqual({
      enabled: true,
      connection: 'default',
      tags: [{ tag: ARTICLE_TAG, entries: await standalone.zcard(`${p}cache:ti:{${ARTICLE_TAG}}`) }],
    });
    expect(view.tags[0].entries).toBeGreaterThanOrEqual(3);
    const purged = await ok('POST', '/redis/cache/purge', tokens.superAdmin, { tag: ARTICLE_TAG });
    expect(purged.purged).toBeGreaterThanOrEqual(3);
    expect((await ok('GET', '/redis/cache', tokens.reader)).tags).toEqual([{ tag: ARTICLE_TAG, entries: 0 }]);
    expect((await fetch(`${app.url}/api/articles?pagination[page]=1`)).headers.get('x-cache')).toBe('MISS');
    expect(await ok('POST', '/redis/cache/purge', tokens.superAdmin, { all: true })).toEqual({ purged: 1 });
    const unknown = await call('POST', '/redis/cache/purge', tokens.superAdmin, { tag: 'nope' });
    expect(unknown.status).toBe(400);
    await waitFor(() => app.logs().includes(`[redis] admin ${tokens.superAdminId} purged every cache tag (1 entries removed)`), 10_000, 'the purge log line');
  });

  it('cron: the guarded task with its last run from Redis (tick, start, result, this instance)', async () => {
    let task: any;
    await waitFor(
      async () => {
        const data = await ok('GET', '/redis/cron', tokens.reader);
        task = data.tasks.find((t: { name: string }) => t.name === cronTask);
        return data.enabled === true && task?.lastRun?.ok === true && task.lastRunSource === 'redis';
      },
      20_000,
      'a recorded cron run',
    );
    expect(task).toMatchObject({ bypassRedlock: false, allowOverlap: false, lastRun: { instance: `${hostname()}:${app.pid}` } });
    expect(Date.parse(task.lastRun.tick)).toBeGreaterThan(Date.now() - 60_000);
    expect(await standalone.hget(`cron:last:${cronTask}`, 'instance')).toBe(`${hostname()}:${app.pid}`);
  });

  it("stats: this instance's counters (cache, rate limit, cron)", async () => {
    const before = await ok('GET', '/redis/stats', tokens.reader);
    expect(before.instance).toBe(`${hostname()}:${app.pid}`);
    expect(before.cron.runs).toBeGreaterThanOrEqual(1);
    await fetch(`${app.url}/api/articles?stats=1`);
    await fetch(`${app.url}/api/articles?stats=1`);
    const after = await ok('GET', '/redis/stats', tokens.reader);
    expect(after.cache.misses).toBe(before.cache.misses + 1);
    expect(after.cache.hits).toBe(before.cache.hits + 1);
    expect(after.rateLimit).toMatchObject({ passed: 0, limited: 0 });
  });
});

describe("the suite's own keys and session values (issue 13 item 13)", () => {
  it('delete by pattern refuses a pattern that could reach locks, cron history, cache generations or sessions (409 naming them); deletes them when named and confirmed', async () => {
    const own = [`lock:${p}res`, `lock:fence:{lock:${p}res}`, `lock:cron:${p}t:tick:1`, `cron:last:${p}t`, `${p}cache:g:x`, `sess:${p}a`, `${p}sess:b`];
    const app = [`${p}app:1`, `${p}app:2`];
    await Promise.all([...own, ...app].map((k) => scratchClient.set(k, '1')));
    const path = '/redis/connections/scratch/keys/delete';
    for (const pattern of ['*', '[l]ock:*', `${p}*`, 'cron:*', `${p}c*`]) {
      const res = await call('POST', path, tokens.superAdmin, { pattern, confirm: pattern });
      expect(res.status, res.text).toBe(409);
      expect(res.body.error).toMatchObject({ status: 409, name: 'ConflictError', message: expect.stringMatching(/^pattern: .*confirmProtected/) });
      expect(res.body.error.details.protected.length).toBeGreaterThan(0);
    }
    const star = await call('POST', path, tokens.superAdmin, { pattern: '*', confirm: '*' });
    expect(star.body.error.details.protected.map((f: { family: string }) => f.family).sort()).toEqual(
      expect.arrayContaining(['cache generations', 'cron history', 'locks', 'sessions']),
    );
    // The session middleware's prefix and the cache middleware's generations come from the app's config.
    const prefixes = star.body.error.details.protected.map((f: { prefix: string }) => f.prefix);
    expect(prefixes).toEqual(expect.arrayContaining(['lock:', 'cron:last:', `${p}cache:g:`, `${p}sess:`, 'sess:']));
    expect((await scanAll(scratchClient, '*')).length).toBe(own.length + app.length);

    expect(await ok('POST', path, tokens.superAdmin, { pattern: `${p}app:*`, confirm: `${p}app:*` })).toMatchObject({ deleted: 2, complete: true });
    const named = await call('POST', path, tokens.superAdmin, { pattern: 'lock:*', confirm: 'lock:*' });
    expect(named.status).toBe(409);
    expect(named.body.error.details.protected).toEqual([{ family: 'locks', prefix: 'lock:', named: true }]);
    expect(await ok('POST', path, tokens.superAdmin, { pattern: 'lock:*', confirm: 'lock:*', confirmProtected: 'lock:' })).toMatchObject({
      deleted: 3,
      complete: true,
    });
    expect((await scanAll(scratchClient, '*')).sort()).toEqual(own.slice(3).sort());
    await Promise.all(own.map((k) => scratchClient.unlink(k)));
  });

  it('a pattern longer than 256 characters is a 400 (SCAN and delete)', async () => {
    const long = `${p}${'x'.repeat(300)}*`;
    const list = await call('GET', `/redis/connections/scratch/keys?pattern=${enc(long)}`, tokens.browser);
    expect(list.status).toBe(400);
    expect(list.body.error.message).toMatch(/^pattern: .*at most 256 characters/);
    const del = await call('POST', '/redis/connections/scratch/keys/delete', tokens.superAdmin, { pattern: long, confirm: long });
    expect(del.status).toBe(400);
    expect(del.body.error.message).toMatch(/^pattern: .*at most 256 characters/);
  });

  it('a session value is shown only to an admin with "Read session values"; the key is listed for every browser', async () => {
    const secret = `session-canary-${p.split(':')[2]}`;
    const made = await fetch(`${app.url}/api/redis-demo/session?x=${secret}`);
    expect(made.status).toBe(200);
    const keys = await scanAll(standalone, `${p}sess:*`);
    expect(keys).toHaveLength(1);
    const key = keys[0]!;
    await standalone.set(`sess:${p}default`, JSON.stringify({ x: secret }), 'PX', 60_000);
    for (const k of [key, `sess:${p}default`]) {
      const listed = await ok('GET', `/redis/connections/default/keys?pattern=${enc(k)}`, tokens.browser);
      expect(listed.keys.map((r: { key: string }) => r.key)).toEqual([k]);
      const hidden = await call('GET', `/redis/connections/default/key?key=${enc(k)}`, tokens.browser);
      expect(hidden.status).toBe(200);
      expect(hidden.body.data).toMatchObject({ key: k, type: 'string', value: null, withheld: 'session', truncated: false });
      expect(hidden.text).not.toContain(secret);
      for (const token of [tokens.sessionReader, tokens.superAdmin]) {
        const shown = await ok('GET', `/redis/connections/default/key?key=${enc(k)}`, token);
        expect(shown.withheld).toBeUndefined();
        expect(String(shown.value)).toContain(secret);
      }
    }
    // Other keys are not affected.
    await standalone.set(`${p}plain`, 'visible');
    expect(await ok('GET', `/redis/connections/default/key?key=${enc(`${p}plain`)}`, tokens.browser)).toMatchObject({ value: 'visible' });
    await standalone.unlink(`sess:${p}default`);
  });
});

describe('secrets', () => {
  it('no response body contains the password canary', async () => {
    expect(bodies.length).toBeGreaterThan(50);
    for (const body of bodies) expect(body).not.toContain(CANARY);
    expect(app.logs()).not.toContain(CANARY);
  });
});
