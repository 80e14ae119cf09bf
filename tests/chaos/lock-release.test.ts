/**
 * Found by the chaos run (`npm run chaos`, seed 3, standalone): a run lock whose release failed
 * because the connection was down at that moment (a Redis restart, a `CLIENT KILL`) stayed held
 * for the rest of its TTL once Redis was back, with AOF keeping the key. The cron guard then
 * skipped every tick of a 1 s task for 5 s ("its previous run is still running") although no run
 * was running and Redis answered. A failed release is now retried in the background (token-checked,
 * so it can only delete this holder's value) until the lock would have expired anyway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockBusyError } from '../../src/index.js';
import { LOCK_KEY_PREFIX } from '../../src/core/locks.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const make = registriesClosedAfterEach();
let server: ServerHandle;

beforeAll(async () => {
  server = await startStandalone({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
});
afterAll(async () => {
  await server?.stop();
});

describe('a lock released while its connection is down', () => {
  it('is released once Redis answers again, not left held until its TTL', async () => {
    const reg = make({ connections: { main: { connection: server.url, requestTimeout: 250 } } });
    await reg.waitUntilReady();
    const r = randomPrefix('release-retry');
    const lock = await reg.locks.acquire(r, { ttl: 8000, autoExtend: false });
    await server.kill('SIGKILL');
    await waitFor(() => reg.client('main').status !== 'ready', 5000, 'the client to see the server gone');
    await lock.release(); // fails at once: the connection is not ready (never throws)
    await server.restart(); // the AOF brings the lock key back, with the time left on it
    await reg.waitUntilReady();
    const back = Date.now();
    const pttl = await reg.client('main').pttl(`${LOCK_KEY_PREFIX}${r}`);
    // Either the retry already ran, or the key is there with most of its 8 s left.
    expect(pttl === -2 || pttl > 3000).toBe(true);
    let freeAfter: number | undefined;
    while (Date.now() - back < 3000) {
      try {
        const again = await reg.locks.acquire(r, { wait: false });
        freeAfter = Date.now() - back;
        await again.release();
        break;
      } catch (error) {
        expect(error).toBeInstanceOf(LockBusyError);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    expect(freeAfter, 'the resource was still held 3 s after Redis answered again (the failed release was not retried)').toBeDefined();
    expect(freeAfter!).toBeLessThan(3000);
  });
});
