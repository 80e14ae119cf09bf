/**
 * Reads of one entry that arrive in the same event-loop turn share one GET; a read that starts
 * after that GET was sent sends its own (so it never sees Redis as of before it asked). Counted
 * with INFO commandstats on a server of our own.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { RedisRegistry } from '../../src/index.js';
import { startStandalone, type ServerHandle } from '../harness/servers.js';
import { cachedApp, registryFor } from './helpers.js';

let server: ServerHandle;
let registry: RedisRegistry;
let client: Redis;

beforeAll(async () => {
  server = await startStandalone();
});
beforeEach(async () => {
  registry = await registryFor(server.url); // closed after each test by the helpers
  client = registry.client('default') as Redis;
});
afterAll(async () => {
  await server?.stop();
});

async function gets(): Promise<number> {
  const m = /^cmdstat_get:calls=(\d+)/m.exec(await client.info('commandstats'));
  return m ? Number(m[1]) : 0;
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('read batching', () => {
  it('50 reads of one entry in one turn: one GET, every read gets the entry', async () => {
    const { agent, mw, key: keyOf } = cachedApp(registry);
    await agent.get('/items/1').expect(200);
    const store = mw.cache.store;
    const key = keyOf('GET /items/1');
    const before = await gets();
    const results = await Promise.all(Array.from({ length: 50 }, () => store.read(key)));
    expect((await gets()) - before).toBe(1);
    for (const r of results) expect(r?.meta.s).toBe(200);
    expect(new Set(results.map((r) => r?.body.toString())).size).toBe(1);
  });

  it('a read that starts after the GET was sent sends its own; different entries are never merged', async () => {
    const { agent, mw, key: keyOf } = cachedApp(registry);
    await agent.get('/items/2').expect(200);
    await agent.get('/items/3').expect(200);
    const store = mw.cache.store;
    const before = await gets();
    const first = store.read(keyOf('GET /items/2'));
    await nextTurn(); // the batch's GET has been sent
    const second = store.read(keyOf('GET /items/2'));
    const other = store.read(keyOf('GET /items/3'));
    const [a, b, c] = await Promise.all([first, second, other]);
    expect((await gets()) - before).toBe(3);
    expect(a?.body.toString()).toBe(b?.body.toString());
    expect(c?.body.toString()).not.toBe(a?.body.toString());
  });

  it('a purge that finished before a read started is seen by it', async () => {
    const { agent, mw, key: keyOf } = cachedApp(registry);
    await agent.get('/items/4').expect(200);
    const store = mw.cache.store;
    const key = keyOf('GET /items/4');
    expect((await store.read(key))?.meta.s).toBe(200);
    await mw.cache.purgeTag('items');
    expect(await store.read(key)).toBeNull();
  });
});
