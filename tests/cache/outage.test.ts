/**
 * The response cache fails open against a real outage: a killed server and a hung one (SIGSTOP).
 * Requests are served by the handler within the read bound; one warning per outage.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { cachedApp } from './helpers.js';

let server: ServerHandle;
const open: RedisRegistry[] = [];
beforeAll(async () => {
  server = await startStandalone();
});
afterAll(async () => {
  await server?.stop();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

async function registry(requestTimeout = 300): Promise<RedisRegistry> {
  const r = createRedisRegistry({ connections: { default: { connection: server.url, requestTimeout } } }, { logger: captureLogger() });
  open.push(r);
  await r.waitUntilReady();
  return r;
}

describe('Redis outage: fail open', () => {
  it('a killed server: every request is served at once (MISS), one warning, hits again after the restart', async () => {
    const r = await registry();
    const { agent, logger, calls } = cachedApp(r);
    await agent.get('/items/1').expect(200);
    expect((await agent.get('/items/1')).headers['x-cache']).toBe('HIT');
    await server.kill('SIGKILL');
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const res = await agent.get('/items/1').expect(200);
      expect(res.headers['x-cache']).toBe('MISS');
      expect(performance.now() - started).toBeLessThan(500);
    }
    expect(calls()).toBe(6);
    const warns = logger.of('warn').filter((l) => l.includes('response cache (connection "default"'));
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatch(/Redis failed: .* Until it answers again requests are served uncached/);
    await server.restart();
    await waitFor(() => r.get('default').isReady, 10_000, 'reconnect');
    await agent.get('/items/1').expect(200);
    expect((await agent.get('/items/1')).headers['x-cache']).toBe('HIT');
    expect(logger.of('info').join('\n')).toMatch(/response cache \(connection "default", prefix "[^"]+"\): Redis answers again after \d+ ms/);
  });

  it('a hung server (SIGSTOP): a read slower than readTimeout is a miss, served within the bound', async () => {
    const r = await registry(2000);
    const { agent, calls } = cachedApp(r, { readTimeout: 50 });
    await agent.get('/items/2').expect(200);
    server.pause();
    try {
      const started = performance.now();
      const res = await agent.get('/items/2').expect(200);
      // the read (50 ms) failed, so nothing else was sent: no wait for the 2 s requestTimeout
      expect(res.headers['x-cache']).toBe('MISS');
      expect(performance.now() - started).toBeLessThan(400);
      expect(calls()).toBe(2);
    } finally {
      server.resume();
    }
  });
});
