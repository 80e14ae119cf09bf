/**
 * Found by the chaos run (`npm run chaos -- --short --topology sentinel`, seed 1): after the master
 * was SIGKILLed and a `SENTINEL FAILOVER` followed, one Strapi instance of three lost Redis for the
 * rest of the run (its connection in state `end`: every purge, session and lock "not ready"), while
 * the other two reconnected. ioredis ends a client for good when a connect attempt is cut short by
 * its connector's own disconnect, which the failover detector of an earlier link does when it sees
 * `+switch-master` while the client is reconnecting. The connection now connects again after an
 * end nobody asked for. The test cuts a reconnect attempt short the way the detector does.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const make = registriesClosedAfterEach();
let server: ServerHandle;
beforeAll(async () => {
  server = await startStandalone();
});
afterAll(async () => {
  await server?.stop();
});

/** The link closes; the reconnect attempt is then cut short by the connector (as the failover detector does). */
function cutReconnectShort(client: Redis): Promise<void> {
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  client.once('connecting', () => (client as unknown as { connector: { disconnect(): void } }).connector.disconnect());
  (client as unknown as { stream: { destroy(): void } }).stream.destroy();
  return ended;
}

describe('a connection ioredis ends on its own', () => {
  it('connects again (and says so once), instead of staying ended', async () => {
    const logger = captureLogger();
    const reg = make({ connections: { main: { connection: server.url } } }, { logger });
    await reg.waitUntilReady();
    const conn = reg.get('main');
    const client = reg.client('main') as Redis;
    await cutReconnectShort(client);
    expect(client.status).toBe('end');
    await waitFor(() => client.status === 'ready', 5000, 'the connection to be ready again');
    expect(await conn.run((cl) => cl.ping())).toBe('PONG');
    expect(logger.of('warn').filter((l) => /ended it without being asked to/.test(l))).toHaveLength(1);
  });

  it('stays ended when the application disconnects it while it waits to connect again', async () => {
    const reg = make({ connections: { main: { connection: server.url } } });
    await reg.waitUntilReady();
    const client = reg.client('main') as Redis;
    await cutReconnectShort(client);
    client.disconnect(); // within the 100 ms before the connection would connect again
    await new Promise((r) => setTimeout(r, 500));
    expect(client.status).toBe('end');
  });

  it('stays ended when the application or close() ended it', async () => {
    const reg = make({ connections: { main: { connection: server.url } } });
    await reg.waitUntilReady();
    const client = reg.client('main') as Redis;
    client.disconnect();
    await new Promise((r) => setTimeout(r, 500));
    expect(client.status).toBe('end');
    // Also while it is connecting again.
    client.connect().catch(() => undefined);
    await waitFor(() => client.status === 'ready', 5000, 'connected again by the test');
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    client.once('connecting', () => client.disconnect());
    (client as unknown as { stream: { destroy(): void } }).stream.destroy();
    await ended;
    await new Promise((r) => setTimeout(r, 500));
    expect(client.status).toBe('end');
    await reg.close();
    expect(client.status).toBe('end');
  });
});
