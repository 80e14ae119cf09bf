/**
 * stale-if-error in plain Koa on real Redis: when the handler throws, answers 5xx or passes
 * originTimeout, an entry that expired less than staleIfError ago is served instead
 * (X-Cache: STALE-IF-ERROR), and the failure is logged once per route per outage. The clock is
 * injected: windows pass without sleeping.
 */
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { responseCache, type ResponseCacheOptions } from '../../src/middlewares/cache/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { agentFor, registryFor } from './helpers.js';

const redis = inject('redis');
const MAX_AGE = 10_000;
const SIE = 300_000;

async function app(connection: unknown, options: Partial<ResponseCacheOptions> = {}) {
  const registry = await registryFor(connection);
  const clock = { t: Date.now() };
  const logger = captureLogger();
  const origin = {
    mode: 'ok' as 'ok' | 'throw' | '503' | 'hang',
    calls: 0,
    gate: undefined as Promise<void> | undefined,
    before: undefined as (() => void | Promise<void>) | undefined,
  };
  const koa = new Koa();
  koa.silent = true; // the thrown errors below are the point of the test
  koa.use(async (ctx, next) => {
    ctx.set('X-Before', 'set-before-the-cache');
    await next();
  });
  const mw = responseCache({
    registry,
    prefix: randomPrefix('cache-sie'),
    logger,
    maxAge: MAX_AGE,
    staleIfError: SIE,
    now: () => clock.t,
    routes: ['/a', '/b', { path: '/short', staleIfError: 1_000 }],
    ...options,
  });
  koa.use(mw);
  koa.use(async (ctx) => {
    origin.calls++;
    const n = origin.calls;
    await origin.before?.();
    if (origin.mode === 'throw') throw new Error('database is down');
    if (origin.mode === 'hang') await origin.gate;
    ctx.set('X-Handler', String(n));
    if (origin.mode === '503') {
      ctx.status = 503;
      ctx.body = { error: 'unavailable' };
      return;
    }
    ctx.body = { n, path: ctx.path };
  });
  return { agent: agentFor(koa), clock, logger, origin, mw, registry };
}

describe.each([
  ['standalone', () => redis.standalone.url],
  ['cluster', () => ({ nodes: redis.cluster.nodes })],
])('on %s', (_kind, connection) => {
  it('a handler that throws: the expired entry is served (STALE-IF-ERROR), one warning per outage, one info line when it answers again', async () => {
    const { agent, clock, logger, origin, mw } = await app(connection());
    const first = await agent.get('/a').expect(200);
    clock.t += MAX_AGE + 1;
    origin.mode = 'throw';
    for (let i = 0; i < 3; i++) {
      const res = await agent.get('/a').expect(200);
      expect(res.headers['x-cache']).toBe('STALE-IF-ERROR');
      expect(res.text).toBe(first.text);
      expect(res.headers.etag).toBe(first.headers.etag);
      expect(res.headers.age).toBe('10');
      expect(res.headers['x-before']).toBe('set-before-the-cache');
    }
    expect(mw.cache.counters.staleIfError).toBe(3);
    const warned = logger.of('warn').filter((l) => l.includes('/a'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/the handler of \/a threw Error: database is down \(request\); serving stored entries up to staleIfError \(300000 ms\)/);
    origin.mode = 'ok';
    const back = await agent.get('/a').expect(200);
    expect(back.headers['x-cache']).toBe('MISS');
    expect(back.body.n).toBe(5);
    expect(logger.of('info').filter((l) => /the handler of \/a answers again after \d+ ms \(3 response\(s\) served from stale entries\)/.test(l))).toHaveLength(
      1,
    );
    // a new outage is a new warning
    clock.t += MAX_AGE + 1;
    origin.mode = 'throw';
    expect((await agent.get('/a').expect(200)).headers['x-cache']).toBe('STALE-IF-ERROR');
    expect(logger.of('warn').filter((l) => l.includes('/a'))).toHaveLength(2);
  });

  it('a 5xx answer is replaced by the entry, without the headers the failed handler set; past the window the 5xx goes through', async () => {
    const { agent, clock, origin } = await app(connection());
    await agent.get('/short').expect(200);
    clock.t += MAX_AGE + 500;
    origin.mode = '503';
    const res = await agent.get('/short').expect(200);
    expect(res.headers['x-cache']).toBe('STALE-IF-ERROR');
    expect(res.headers['x-handler']).toBeUndefined();
    expect(res.body.n).toBe(1);
    clock.t += 1_000; // past maxAge + staleIfError (1 s) of this rule
    const gone = await agent.get('/short').expect(503);
    expect(gone.headers['x-cache']).toBe('MISS');
    // with nothing stored, a failure is answered as before
    expect((await agent.get('/b').expect(503)).headers['x-cache']).toBe('MISS');
  });
});

it('originTimeout: a handler that hangs is answered from the stored entry after the timeout; its late answer is dropped', async () => {
  const { agent, clock, origin, logger } = await app(redis.standalone.url, { originTimeout: 150 });
  await agent.get('/a').expect(200);
  clock.t += MAX_AGE + 1;
  origin.mode = 'hang';
  let open!: () => void;
  origin.gate = new Promise<void>((r) => (open = r));
  const started = performance.now();
  const res = await agent.get('/a').expect(200);
  const took = performance.now() - started;
  expect(res.headers['x-cache']).toBe('STALE-IF-ERROR');
  expect(res.body.n).toBe(1);
  expect(took).toBeGreaterThanOrEqual(140);
  expect(took).toBeLessThan(1_500);
  expect(logger.of('warn').join('\n')).toMatch(/the handler of \/a took longer than originTimeout \(150 ms\)/);
  open();
  await new Promise((r) => setTimeout(r, 20));
  // the late answer was not stored: the entry is still the old one
  origin.mode = 'ok';
  clock.t -= MAX_AGE; // back inside maxAge of the first entry
  const hit = await agent.get('/a').expect(200);
  expect(hit.headers['x-cache']).toBe('HIT');
  expect(hit.body.n).toBe(1);
});

it('entries are kept for maxAge plus the longer stale window; bad values stop the factory naming the path', async () => {
  const registry = await registryFor(redis.standalone.url);
  const prefix = randomPrefix('cache-sie');
  const koa = new Koa();
  koa.use(responseCache({ registry, prefix, logger: captureLogger(), maxAge: 5_000, staleWhileRevalidate: 20_000, staleIfError: 50_000, routes: ['/x'] }));
  koa.use((ctx) => {
    ctx.body = 'x';
  });
  const agent = agentFor(koa);
  await agent.get('/x').expect(200);
  const pttl = await registry.client('default').pttl(`${prefix}e:GET /x|host=${encodeURIComponent(agent.host)}`);
  expect(pttl).toBeGreaterThan(54_000);
  expect(pttl).toBeLessThanOrEqual(55_000);
  expect(() => responseCache({ client: {} as never, staleIfError: 'long' as never })).toThrow(
    /staleIfError: got "long"; expected an integer number of milliseconds >= 0/,
  );
  expect(() => responseCache({ client: {} as never, originTimeout: 0 })).toThrow(/originTimeout: got 0; expected an integer number of milliseconds >= 1/);
  expect(() => responseCache({ client: {} as never, routes: [{ path: '/x', originTimeout: -1 }] })).toThrow(/routes\[0\]\.originTimeout: got -1/);
});

describe('a read that missed its bound (a loaded instance) and a failing handler', () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await startStandalone();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each(['throw', '503'] as const)(
    'handler %s: the entry is looked up once more and stands in (STALE-IF-ERROR), not the error; with no entry the error goes through',
    async (failure) => {
      const { agent, clock, origin, registry } = await app({ host: server.host, port: server.port }, { readTimeout: 100 });
      const first = await agent.get('/a').expect(200);
      clock.t += MAX_AGE + 1;
      // The read of the next request misses its 100 ms bound (Redis frozen); the handler lets Redis
      // answer again (the late reply has arrived: until then commands on the link are refused at
      // once, tests/chaos/unanswered.test.ts), then fails: the second look finds the expired entry.
      server.pause();
      origin.mode = failure === 'throw' ? 'throw' : '503';
      origin.before = async () => {
        server.resume();
        await waitFor(
          async () =>
            (await registry
              .get('default')
              .run((client) => client.ping())
              .catch(() => null)) === 'PONG',
          3000,
          'Redis to answer again',
        );
      };
      const res = await agent.get('/a').expect(200);
      expect(res.headers['x-cache']).toBe('STALE-IF-ERROR');
      expect(res.text).toBe(first.text);
      expect(res.headers['x-handler']).toBeUndefined();
      // No entry at all (another path): the handler's failure is the answer, as without a cache.
      server.pause();
      const none = await agent.get('/b');
      expect(none.status).toBe(failure === 'throw' ? 500 : 503);
    },
  );
});
