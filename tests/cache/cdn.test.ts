/**
 * Headers for a CDN in front (Cache-Control from the rule, Surrogate-Key / Cache-Tag), the
 * onPurge hook, and the built-in HTTP purge hook against a local receiver: templates, retries
 * with backoff, bounded queue, and a purge that does not wait while the receiver hangs.
 */
import * as http from 'node:http';
import Koa from 'koa';
import { afterEach, expect, inject, it } from 'vitest';
import { CacheConfigError, responseCache, type ResponseCacheOptions } from '../../src/middlewares/cache/index.js';
import { randomPrefix } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { agentFor, registryFor } from './helpers.js';

const redis = inject('redis');

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

const receivers: http.Server[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) {
    r.closeAllConnections();
    await new Promise((done) => r.close(done));
  }
});

/** A local HTTP receiver: `answer` decides each reply (a status, or 'hang' to never answer). */
async function receiver(answer: (n: number) => number | 'hang' = () => 200) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body, at: performance.now() });
      const a = answer(received.length);
      if (a === 'hang') return;
      res.statusCode = a;
      res.end('ok');
    });
  });
  receivers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { received, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

async function app(options: Partial<ResponseCacheOptions>) {
  const registry = await registryFor(redis.standalone.url);
  const clock = { t: Date.now() };
  const logger = captureLogger();
  const koa = new Koa();
  const mw = responseCache({
    registry,
    prefix: randomPrefix('cache-cdn'),
    logger,
    maxAge: 30_000,
    now: () => clock.t,
    routes: [{ path: '/items', tags: ['items', 'ct:api::item.item'] }, '/plain'],
    ...options,
  });
  koa.use(mw);
  koa.use((ctx) => {
    ctx.body = { path: ctx.path };
  });
  return { agent: agentFor(koa), mw, logger, clock };
}

it('cdn: Cache-Control from the rule and Surrogate-Key on MISS, HIT and STALE; none on BYPASS; off by default', async () => {
  const { agent, clock } = await app({ cdn: true, staleWhileRevalidate: 60_000, staleIfError: 120_000 });
  const cc = 'public, max-age=0, s-maxage=30, stale-while-revalidate=60, stale-if-error=120';
  for (const state of ['MISS', 'HIT']) {
    const res = await agent.get('/items').expect(200);
    expect(res.headers['x-cache']).toBe(state);
    expect(res.headers['cache-control']).toBe(cc);
    expect(res.headers['surrogate-key']).toBe('items ct:api::item.item');
  }
  clock.t += 30_001;
  const stale = await agent.get('/items').expect(200);
  expect(stale.headers['x-cache']).toBe('STALE');
  expect(stale.headers['cache-control']).toBe(cc);
  expect(stale.headers.age).toBe('30');
  const bypass = await agent.get('/items').set('Authorization', 'Bearer x').expect(200);
  expect(bypass.headers['x-cache']).toBe('BYPASS');
  expect(bypass.headers['cache-control']).toBeUndefined();
  expect(bypass.headers['surrogate-key']).toBeUndefined();

  const off = await app({});
  const plain = await off.agent.get('/items').expect(200);
  expect(plain.headers['cache-control']).toBeUndefined();
  expect(plain.headers['surrogate-key']).toBeUndefined();
});

it('cdn: Cache-Tag (comma-separated), a browser max-age, no stale directives when the windows are off', async () => {
  const { agent } = await app({ cdn: { tagsHeader: 'Cache-Tag', browserMaxAge: 5_000 } });
  const res = await agent.get('/items').expect(200);
  expect(res.headers['cache-control']).toBe('public, max-age=5, s-maxage=30');
  expect(res.headers['cache-tag']).toBe('items,ct:api::item.item');
  expect(res.headers['surrogate-key']).toBeUndefined();
  expect(() => responseCache({ client: {} as never, cdn: { tagsHeader: 'bad header' } })).toThrow(/cdn\.tagsHeader: got "bad header"; expected a header name/);
  expect(() => responseCache({ client: {} as never, cdn: { ttl: 1 } as never })).toThrow(/cdn\.ttl: got 1; expected no such option/);
});

it('onPurge gets the tags and the removed keys; a hook that hangs or throws never delays or fails the purge', async () => {
  const calls: Array<[string[], string[]]> = [];
  const { agent, mw, logger } = await app({
    onPurge: (tags, keys) => {
      calls.push([tags, keys]);
      if (calls.length === 2) throw new Error('hook broke');
      return new Promise<void>(() => undefined); // never settles
    },
  });
  await agent.get('/items?a=1').expect(200);
  await agent.get('/items?a=2').expect(200);
  const started = performance.now();
  expect(await mw.cache.purgeTag('items')).toBe(2);
  expect(performance.now() - started).toBeLessThan(500);
  expect(calls[0]![0]).toEqual(['items']);
  expect(calls[0]![1].sort()).toEqual([`GET /items?a=1|host=${encodeURIComponent(agent.host)}`, `GET /items?a=2|host=${encodeURIComponent(agent.host)}`]);
  // the entries are gone, but the content type's index still listed them: they are reported again (a CDN purge is safe to repeat)
  expect(await mw.cache.purgeAll()).toBe(0);
  expect(calls[1]![0]).toEqual(['items', 'ct:api::item.item', 'route:/plain']);
  expect(calls[1]![1].sort()).toEqual(calls[0]![1].sort());
  expect(logger.of('warn').join('\n')).toMatch(/onPurge failed: hook broke/);
});

it('purge webhook: one request per URL with the templates filled; retried with doubling backoff on 503', async () => {
  const a = await receiver((n) => (n <= 2 ? 503 : 200));
  const b = await receiver();
  const { agent, mw } = await app({
    purgeWebhook: {
      urls: [`${a.url}/purge?tags={{tags.comma}}&token=s3cret`, `${b.url}/hook`],
      headers: { 'content-type': 'application/json', authorization: 'Bearer very-secret', 'surrogate-key': '{{tags.space}}' },
      retries: 3,
      backoff: 50,
    },
  });
  await agent.get('/items?x=1').expect(200);
  await mw.cache.purgeContentType('api::item.item');
  await mw.cache.purgeWebhook!.idle();
  expect(a.received).toHaveLength(3);
  expect(b.received).toHaveLength(1);
  const [first, second, third] = a.received as [Received, Received, Received];
  expect(second.at - first.at).toBeGreaterThanOrEqual(45);
  expect(third.at - second.at).toBeGreaterThanOrEqual(95);
  expect(third.method).toBe('POST');
  expect(third.url).toBe(`/purge?tags=${encodeURIComponent('ct:api::item.item')}&token=s3cret`);
  expect(third.headers.authorization).toBe('Bearer very-secret');
  expect(third.headers['surrogate-key']).toBe('ct:api::item.item');
  expect(JSON.parse(b.received[0]!.body)).toEqual({ tags: ['ct:api::item.item'], keys: [`GET /items?x=1|host=${encodeURIComponent(agent.host)}`] });
  expect(mw.cache.purgeWebhook!.counters).toEqual({ delivered: 2, failed: 0, retried: 2, dropped: 0 });
});

it('purge webhook: while the receiver hangs a purge returns at once; attempts time out, are retried, then given up (logged without secrets); the queue is bounded', async () => {
  const hung = await receiver(() => 'hang');
  const { agent, mw, logger } = await app({
    purgeWebhook: {
      urls: [`${hung.url}/purge?token=s3cret`],
      headers: { authorization: 'Bearer very-secret' },
      retries: 1,
      backoff: 10,
      timeout: 200,
      maxPending: 3,
      concurrency: 1,
    },
  });
  await agent.get('/items').expect(200);
  const durations: number[] = [];
  for (let i = 0; i < 6; i++) {
    const started = performance.now();
    await mw.cache.purgeTag('items');
    durations.push(performance.now() - started);
  }
  // the first delivery is in flight at the receiver, which does not answer
  await waitFor(() => hung.received.length >= 1, 2_000, 'the receiver to get the first request');
  expect(Math.max(...durations)).toBeLessThan(200);
  expect(mw.cache.purgeWebhook!.counters.dropped).toBe(3);
  expect(logger.of('warn').filter((l) => l.includes('maxPending'))).toHaveLength(1);
  await mw.cache.purgeWebhook!.idle();
  expect(mw.cache.purgeWebhook!.counters).toMatchObject({ failed: 3, retried: 3, delivered: 0 });
  expect(hung.received).toHaveLength(6); // 3 deliveries x 2 attempts
  const failures = logger.of('warn').filter((l) => l.includes('no answer within purgeWebhook.timeout (200 ms) after 2 attempt(s)'));
  expect(failures).toHaveLength(3);
  expect(failures[0]).toContain(`${hung.url}/purge`);
  expect(logger.all()).not.toMatch(/s3cret|very-secret/);
});

it('purge webhook: bad config stops the factory without echoing URLs or header values', () => {
  const bad = (purgeWebhook: unknown) => () => responseCache({ client: {} as never, purgeWebhook: purgeWebhook as never });
  expect(bad({ urls: [] })).toThrow(/purgeWebhook\.urls: got \[\]; expected a non-empty array/);
  expect(bad({ urls: ['ftp://u:secretpw@x/'] })).toThrow(CacheConfigError);
  expect(bad({ urls: ['ftp://u:secretpw@x/'] })).toThrow(/purgeWebhook\.urls\[0\]: got "\*\*\*"; expected an http\(s\) URL/);
  expect(bad({ urls: ['ftp://u:secretpw@x/'] })).not.toThrow(/secretpw/);
  expect(bad({ urls: ['https://x/'], headers: { authorization: 42 } })).toThrow(/purgeWebhook\.headers: got \{"authorization":"\*\*\*"\}; expected an object/);
  expect(bad({ urls: ['https://x/'], retries: -1 })).toThrow(/purgeWebhook\.retries: got -1/);
  expect(bad({ urls: ['https://x/'], wat: 1 })).toThrow(/purgeWebhook\.wat: got 1; expected no such option/);
});
