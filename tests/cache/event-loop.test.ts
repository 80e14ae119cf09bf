/**
 * The read bound under a busy event loop: Node runs expired timers before it reads sockets, so a
 * reply that Redis sent in time but that the process could not read before `readTimeout` passed
 * (a saturated process) must still be a hit, not a miss that runs the handler. A read that Redis
 * does not answer in time is still a miss within the bound.
 */
import { describe, expect, inject, it } from 'vitest';
import { withTimeout } from '../../src/core/time.js';
import { startStandalone } from '../harness/servers.js';
import { cachedApp, registryFor } from './helpers.js';

const redis = inject('redis');

/** Keep the event loop busy (synchronously) for `ms`. */
const block = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('readTimeout under a busy event loop', () => {
  it('a reply received while the loop was blocked past readTimeout is a hit (20 of 20 reads)', async () => {
    const registry = await registryFor(redis.standalone.url);
    const { agent, mw, key: keyOf } = cachedApp(registry, { readTimeout: 20 });
    await agent.get('/items/7').expect(200);
    expect((await agent.get('/items/7')).headers['x-cache']).toBe('HIT');
    const store = mw.cache.store;
    const key = keyOf('GET /items/7');
    let hits = 0;
    for (let i = 0; i < 20; i++) {
      // the GET is written to the socket at once; Redis answers within a millisecond, while this
      // process is busy for 60 ms (3x the bound). With a plain timer about half become misses.
      const read = store.read(key);
      block(60);
      if (await read) hits++;
    }
    expect(hits).toBe(20);
    expect(store.counters.errors).toBe(0);
  });

  it('a read Redis does not answer (SIGSTOP) is still a miss within the bound', async () => {
    const server = await startStandalone();
    try {
      const registry = await registryFor(server.url, 2000);
      const { agent, mw, calls, key } = cachedApp(registry, { readTimeout: 50 });
      await agent.get('/items/8').expect(200);
      server.pause();
      try {
        const started = performance.now();
        expect(await mw.cache.store.read(key('GET /items/8'))).toBeUndefined();
        expect(performance.now() - started).toBeLessThan(300);
        const res = await agent.get('/items/8').expect(200);
        expect(res.headers['x-cache']).toBe('MISS');
        expect(calls()).toBe(2);
      } finally {
        server.resume();
      }
    } finally {
      await server.stop();
    }
  });

  it('withTimeout: resolves with the value, passes a rejection on, times out with the given error', async () => {
    await expect(withTimeout(Promise.resolve(1), 10, () => new Error('late'))).resolves.toBe(1);
    await expect(withTimeout(Promise.reject(new Error('boom')), 10, () => new Error('late'))).rejects.toThrow('boom');
    const started = performance.now();
    await expect(withTimeout(new Promise(() => undefined), 30, () => new Error('late'))).rejects.toThrow('late');
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
  });
});
