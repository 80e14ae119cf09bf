/**
 * The response cache in plain Koa on real Redis (standalone, Cluster, Sentinel): hits, keys, what is never
 * cached, credentials, purge by tag, no stale re-fill after a purge.
 */
import { describe, expect, inject, it } from 'vitest';
import { responseCache } from '../../src/middlewares/cache/index.js';
import { cachedApp, registryFor } from './helpers.js';

const redis = inject('redis');

describe.each([
  ['standalone', () => redis.standalone.url],
  ['cluster', () => ({ nodes: redis.cluster.nodes })],
  ['sentinel', () => ({ sentinels: redis.sentinel.sentinels, name: redis.sentinel.name })],
])('on %s', (_kind, connection) => {
  it('MISS then HIT with the same status, bytes and type; ETag, Age; the entry expires after maxAge (PX, ms)', async () => {
    const registry = await registryFor(connection());
    const { agent, prefix, key, calls } = cachedApp(registry, { maxAge: 45_000 });
    const miss = await agent.get('/items?x=1').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const hit = await agent.get('/items?x=1').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe(miss.text);
    expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    expect(hit.headers.etag).toBe(miss.headers.etag);
    expect(hit.headers.age).toBe('0');
    expect(calls()).toBe(1);
    const pttl = await registry.client('default').pttl(key('GET /items?x=1'));
    expect(pttl).toBeGreaterThan(44_000);
    expect(pttl).toBeLessThanOrEqual(45_000);
    // the tag index lives at least as long as the entry; the entry is indexed with its expiry (ms)
    expect(await registry.client('default').pttl(`${prefix}ti:{items}`)).toBeGreaterThanOrEqual(pttl - 50);
    const score = Number(await registry.client('default').zscore(`${prefix}ti:{items}`, key('GET /items?x=1')));
    expect(score - Date.now()).toBeGreaterThan(44_000);
    expect(score - Date.now()).toBeLessThanOrEqual(45_000 + 1_000 + 1_000); // + the index's slack, + clock jitter
  });

  it('answers 304 to a matching If-None-Match, on a hit and on a miss; a handler ETag is kept', async () => {
    const registry = await registryFor(connection());
    const { agent } = cachedApp(registry);
    const first = await agent.get('/text').expect(200);
    expect(first.text).toBe('text 1');
    const etag = first.headers.etag as string;
    const notModified = await agent.get('/text').set('If-None-Match', `W/"nope", ${etag}`).expect(304);
    expect(notModified.headers['x-cache']).toBe('HIT');
    expect(notModified.text).toBe('');
    const own = await agent.get('/etag').set('If-None-Match', '"own-etag"').expect(304);
    expect(own.headers['x-cache']).toBe('MISS');
    expect((await agent.get('/etag').expect(200)).headers.etag).toBe('"own-etag"');
  });

  it('keys: query order and encoding do not matter, other values and selected headers do, HEAD is its own entry', async () => {
    const registry = await registryFor(connection());
    const { agent, calls } = cachedApp(registry);
    await agent.get('/items?b=2&a=1').expect(200);
    expect((await agent.get('/items?a=1&b=2').expect(200)).headers['x-cache']).toBe('HIT');
    expect((await agent.get('/items?a=%31&b=2').expect(200)).headers['x-cache']).toBe('HIT');
    expect((await agent.get('/items?a=1&b=3').expect(200)).headers['x-cache']).toBe('MISS');
    expect((await agent.get('/items?a=1&b=2').set('Accept-Language', 'fr').expect(200)).headers['x-cache']).toBe('MISS');
    expect((await agent.get('/items?a=1&b=2').set('Accept-Language', 'fr').expect(200)).body.lang).toBe('fr');
    const head = await agent.head('/items/7').expect(200);
    expect(head.headers['x-cache']).toBe('MISS');
    expect((await agent.head('/items/7').expect(200)).headers['x-cache']).toBe('HIT');
    expect((await agent.get('/items/7').expect(200)).headers['x-cache']).toBe('MISS');
    expect(calls()).toBe(5);
  });

  it('queryKeys: only listed parameters form the key', async () => {
    const registry = await registryFor(connection());
    const { agent } = cachedApp(registry, { queryKeys: ['page'] });
    await agent.get('/items?page=1&utm_source=a').expect(200);
    expect((await agent.get('/items?utm_source=b&page=1').expect(200)).headers['x-cache']).toBe('HIT');
    expect((await agent.get('/items?page=2').expect(200)).headers['x-cache']).toBe('MISS');
  });

  it('never caches non-2xx, Set-Cookie, streams, no-store/private, bodies over maxBodyBytes, other methods or paths', async () => {
    const registry = await registryFor(connection());
    const { agent, calls, mw } = cachedApp(registry, { maxBodyBytes: 1000 });
    for (const path of ['/missing', '/cookie', '/stream', '/nostore', '/private', '/big']) {
      await agent.get(path);
      const again = await agent.get(path);
      expect(again.headers['x-cache'], path).toBe('MISS');
    }
    expect((await agent.get('/stream').expect(200)).text).toMatch(/^stream \d+$/);
    await agent.post('/items').send({});
    await agent.post('/items').send({});
    await agent.get('/other');
    expect((await agent.get('/other')).headers['x-cache']).toBeUndefined();
    expect(calls()).toBe(17);
    expect(mw.cache.counters.stores).toBe(0);
  });

  it('Authorization or Cookie bypasses; with byCaller each user gets their own entry, keyed by id only', async () => {
    const registry = await registryFor(connection());
    const { agent, calls } = cachedApp(registry);
    expect((await agent.get('/user').set('Authorization', 'Bearer secret-token')).headers['x-cache']).toBe('BYPASS');
    expect((await agent.get('/user').set('Cookie', 'sid=1')).headers['x-cache']).toBe('BYPASS');
    expect(calls()).toBe(2);

    const perUser = cachedApp(registry, { byCaller: true });
    const auth = 'Bearer secret-token-value';
    expect((await perUser.agent.get('/user').set('Authorization', auth).set('x-test-user', '1')).headers['x-cache']).toBe('MISS');
    expect((await perUser.agent.get('/user').set('Authorization', auth).set('x-test-user', '1')).headers['x-cache']).toBe('HIT');
    expect((await perUser.agent.get('/user').set('Authorization', auth).set('x-test-user', '2')).headers['x-cache']).toBe('MISS');
    // credentials but no known identity: bypass; anonymous: one shared entry
    expect((await perUser.agent.get('/user').set('Authorization', auth)).headers['x-cache']).toBe('BYPASS');
    await perUser.agent.get('/user');
    expect((await perUser.agent.get('/user')).headers['x-cache']).toBe('HIT');
    const client = registry.client('default');
    const members = await client.zrange(`${perUser.prefix}ti:{route:/user}`, 0, -1);
    expect(members.sort()).toEqual([
      perUser.key('GET /user', '|caller=anon'),
      perUser.key('GET /user', '|caller=u:1'),
      perUser.key('GET /user', '|caller=u:2'),
    ]);
    expect(members.join()).not.toContain('secret');
    expect(perUser.mw.cache.counters).toMatchObject({ hits: 2, misses: 3, bypasses: 1 });
  });

  it('long keys are hashed (SHA-256)', async () => {
    const registry = await registryFor(connection());
    const { agent, prefix } = cachedApp(registry);
    const long = `/items?q=${'a'.repeat(500)}`;
    await agent.get(long).expect(200);
    expect((await agent.get(long).expect(200)).headers['x-cache']).toBe('HIT');
    const members = await registry.client('default').zrange(`${prefix}ti:{items}`, 0, -1);
    expect(members).toHaveLength(1);
    expect(members[0]).toMatch(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}e:sha256:[0-9a-f]{64}$`));
  });

  it('purge by tag removes exactly the tagged entries; purgeAll removes the rest; the next read is a MISS', async () => {
    const registry = await registryFor(connection());
    const { agent, mw } = cachedApp(registry);
    for (let i = 0; i < 30; i++) await agent.get(`/items/${i}`).expect(200);
    await agent.get('/text').expect(200);
    expect((await agent.get('/items/3')).headers['x-cache']).toBe('HIT');
    expect(await mw.cache.purgeTag('items')).toBe(30);
    expect((await agent.get('/items/3')).headers['x-cache']).toBe('MISS');
    expect((await agent.get('/items/3')).headers['x-cache']).toBe('HIT');
    expect((await agent.get('/text')).headers['x-cache']).toBe('HIT');
    expect(await mw.cache.purgeAll()).toBe(2);
    expect((await agent.get('/text')).headers['x-cache']).toBe('MISS');
    expect(mw.cache.counters.purgedKeys).toBe(32);
  });

  it('a purge while a response is being built: that response is served but not left in the cache', async () => {
    const registry = await registryFor(connection());
    const { agent, mw, gate, calls } = cachedApp(registry);
    let open!: () => void;
    gate.wait = new Promise<void>((r) => (open = r));
    const slow = agent.get('/slow').then((r) => r);
    // the handler is running (it has read old data); the write commits and purges now
    while (calls() === 0) await new Promise((r) => setTimeout(r, 5));
    await mw.cache.purgeAll();
    open();
    expect((await slow).status).toBe(200);
    expect(mw.cache.counters.discarded).toBe(1);
    gate.wait = undefined;
    expect((await agent.get('/slow')).headers['x-cache']).toBe('MISS');
    expect((await agent.get('/slow')).headers['x-cache']).toBe('HIT');
  });
});

describe('options', () => {
  it('invalid options throw at creation, naming the option', () => {
    expect(() => responseCache({ maxAge: 1.5 })).toThrow(/maxAge: got 1.5; expected an integer number of milliseconds >= 1/);
    expect(() => responseCache({ routes: ['items'] })).toThrow(/routes\[0\]\.path: got "items"; expected a path pattern starting with '\/'/);
    expect(() => responseCache({ contentTypes: ['api::a.a'] })).toThrow(/contentTypes\[0\]\.contentType: .*only inside Strapi/);
    expect(() => responseCache({ maxAg: 1 } as never)).toThrow(/maxAg: got 1; expected no such option/);
    expect(() => responseCache({ routes: [{ path: '/a', maxAge: '60s' as never }] })).toThrow(/routes\[0\]\.maxAge/);
  });
});

describe('header switches', () => {
  it('etag: false sends no ETag and never answers 304; the entry still hits', async () => {
    const registry = await registryFor(redis.standalone.url);
    const { agent, calls } = cachedApp(registry, { etag: false });
    const miss = await agent.get('/text').expect(200);
    expect(miss.headers.etag).toBeUndefined();
    const hit = await agent.get('/text').set('If-None-Match', '*').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.etag).toBeUndefined();
    expect(hit.text).toBe('text 1');
    expect(calls()).toBe(1);
  });

  it('xCache: false leaves out X-Cache on MISS, HIT and BYPASS; caching itself is unchanged', async () => {
    const registry = await registryFor(redis.standalone.url);
    const { agent, calls } = cachedApp(registry, { xCache: false });
    const miss = await agent.get('/text').expect(200);
    const hit = await agent.get('/text').expect(200);
    const bypass = await agent.get('/text').set('Authorization', 'Bearer x').expect(200);
    for (const res of [miss, hit, bypass]) expect(res.headers['x-cache']).toBeUndefined();
    expect(hit.text).toBe(miss.text);
    expect(hit.headers.etag).toBe(miss.headers.etag);
    expect(calls()).toBe(2); // the miss and the bypass ran the handler; the hit did not
  });

  it('rejects a non-boolean switch at creation, naming the option', async () => {
    const registry = await registryFor(redis.standalone.url);
    expect(() => cachedApp(registry, { etag: 'no' as never })).toThrow(/etag.*"no".*true or false/s);
  });
});
