/**
 * What an entry may be served for (issue #13 item 7): the plain-Koa `responseCache()` keys on the
 * host the app sees (`ctx.host`: the `Host` header, or `X-Forwarded-Host` behind a proxy with
 * `app.proxy`), so a multi-host app never serves one host's body to another; and a response whose
 * `Vary` (as the handler left it) names a request header the key does not cover is not stored.
 */
import Koa from 'koa';
import { describe, expect, inject, it } from 'vitest';
import { responseCache, type ResponseCacheOptions } from '../../src/middlewares/cache/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';
import { agentFor, registryFor } from './helpers.js';

const redis = inject('redis');

/** A Koa app whose body names the host it was built for; `?vary=<header>` makes the handler add it to Vary. */
async function hostApp(options: Partial<ResponseCacheOptions> = {}, setup?: (app: Koa) => void) {
  const registry = await registryFor(redis.standalone.url);
  let calls = 0;
  const app = new Koa();
  setup?.(app);
  const mw = responseCache({ registry, prefix: randomPrefix('cache-host'), logger: captureLogger(), routes: ['/page', '/vary'], ...options });
  app.use(mw);
  app.use((ctx) => {
    calls++;
    if (ctx.path === '/vary' && typeof ctx.query.vary === 'string') ctx.vary(ctx.query.vary);
    ctx.body = { host: ctx.host, n: calls };
  });
  return { agent: agentFor(app), mw, calls: () => calls };
}

describe('the key covers the host', () => {
  it("two hosts on one app: each gets its own entry, never the other host's body", async () => {
    const { agent, calls } = await hostApp();
    const a = await agent.get('/page').set('Host', 'a.example').expect(200);
    expect(a.headers['x-cache']).toBe('MISS');
    expect(a.body.host).toBe('a.example');
    const b = await agent.get('/page').set('Host', 'b.example').expect(200);
    expect(b.headers['x-cache']).toBe('MISS');
    expect(b.body.host).toBe('b.example');
    // each host hits its own entry; host names are case-insensitive
    expect((await agent.get('/page').set('Host', 'A.Example').expect(200)).body.host).toBe('a.example');
    const hitB = await agent.get('/page').set('Host', 'b.example').expect(200);
    expect(hitB.headers['x-cache']).toBe('HIT');
    expect(hitB.body.host).toBe('b.example');
    // the port is part of the host
    expect((await agent.get('/page').set('Host', 'a.example:8080').expect(200)).headers['x-cache']).toBe('MISS');
    expect(calls()).toBe(3);
  });

  it('behind a proxy (app.proxy) the forwarded host is the one keyed; without app.proxy X-Forwarded-Host is ignored', async () => {
    const proxied = await hostApp({}, (app) => (app.proxy = true));
    const viaA = await proxied.agent.get('/page').set('Host', 'upstream:3000').set('X-Forwarded-Host', 'a.example').expect(200);
    expect(viaA.body.host).toBe('a.example');
    const viaB = await proxied.agent.get('/page').set('Host', 'upstream:3000').set('X-Forwarded-Host', 'b.example').expect(200);
    expect(viaB.headers['x-cache']).toBe('MISS');
    expect(viaB.body.host).toBe('b.example');

    const direct = await hostApp();
    await direct.agent.get('/page').set('Host', 'a.example').set('X-Forwarded-Host', 'evil.example').expect(200);
    const again = await direct.agent.get('/page').set('Host', 'a.example').set('X-Forwarded-Host', 'other.example').expect(200);
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.body.host).toBe('a.example');
  });

  it('keyHost: false shares entries across hosts (for apps whose responses never depend on the host)', async () => {
    const { agent, calls } = await hostApp({ keyHost: false });
    await agent.get('/page').set('Host', 'a.example').expect(200);
    const b = await agent.get('/page').set('Host', 'b.example').expect(200);
    expect(b.headers['x-cache']).toBe('HIT');
    expect(calls()).toBe(1);
  });
});

describe('Vary', () => {
  it('a response that varies on a header outside the key is not stored; on a key header (or the host) it is', async () => {
    const { agent, mw } = await hostApp();
    for (const header of ['Accept-Encoding', 'Origin', 'X-Tenant', 'Accept-Language, User-Agent']) {
      const path = `/vary?vary=${encodeURIComponent(header)}`;
      const first = await agent.get(path).expect(200);
      expect(first.headers['x-cache'], header).toBe('MISS');
      expect((await agent.get(path).expect(200)).headers['x-cache'], header).toBe('MISS');
    }
    expect(mw.cache.counters.stores).toBe(0);
    // accept-language is a key header by default; host is keyed
    for (const header of ['Accept-Language', 'accept-language, Host']) {
      const path = `/vary?vary=${encodeURIComponent(header)}`;
      await agent.get(path).expect(200);
      const hit = await agent.get(path).expect(200);
      expect(hit.headers['x-cache'], header).toBe('HIT');
      expect(hit.headers.vary).toBe(header);
    }
  });

  it('a header a key header covers only when listed in keyHeaders', async () => {
    const { agent } = await hostApp({ keyHeaders: ['accept-language', 'x-tenant'] });
    await agent.get('/vary?vary=X-Tenant').set('X-Tenant', 'a').expect(200);
    expect((await agent.get('/vary?vary=X-Tenant').set('X-Tenant', 'a').expect(200)).headers['x-cache']).toBe('HIT');
    const other = await agent.get('/vary?vary=X-Tenant').set('X-Tenant', 'b').expect(200);
    expect(other.headers['x-cache']).toBe('MISS');
  });

  it('Vary set by a middleware before the cache (e.g. CORS: Vary: Origin) does not prevent storing', async () => {
    const { agent } = await hostApp({}, (app) =>
      app.use(async (ctx, next) => {
        ctx.vary('Origin');
        await next();
      }),
    );
    await agent.get('/page').set('Origin', 'https://a.example').expect(200);
    const hit = await agent.get('/page').set('Origin', 'https://b.example').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.vary).toBe('Origin');
  });

  it('Vary: * is never stored', async () => {
    const { agent } = await hostApp();
    await agent.get('/vary?vary=*').expect(200);
    expect((await agent.get('/vary?vary=*').expect(200)).headers['x-cache']).toBe('MISS');
  });
});
