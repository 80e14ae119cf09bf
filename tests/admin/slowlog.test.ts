/**
 * Issue 18 item 2 at the admin API's functions: the slow log per node with its threshold, and
 * LATENCY LATEST where latency monitoring is on. Commands are made slow with DEBUG SLEEP on a
 * server this file starts (DEBUG and CONFIG SET are never sent to the shared servers); the shared
 * Cluster is only read (SLOWLOG GET, CONFIG GET).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ARG_MAX_CHARS, shownCommand, slowlogView } from '../../src/admin-api/index.js';
import type { RedisRegistry } from '../../src/index.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { registriesClosedAfterEach } from '../helpers/registry.js';

const redis = inject('redis');
const makeRegistry = registriesClosedAfterEach();
let own: ServerHandle;
let slow: Redis;

beforeAll(async () => {
  own = await startStandalone({ args: ['--enable-debug-command', 'yes'] });
  slow = new Redis({ port: own.port, host: '127.0.0.1', connectionName: 'slow-test-client' });
  await slow.config('SET', 'slowlog-log-slower-than', '100000');
  await slow.config('SET', 'latency-monitor-threshold', '0');
  await slow.slowlog('RESET');
});
afterAll(async () => {
  slow?.disconnect();
  await own?.stop();
});

async function ready(config: Parameters<typeof makeRegistry>[0]): Promise<RedisRegistry> {
  const r = makeRegistry(config);
  await r.waitUntilReady();
  return r;
}

describe('slow log', () => {
  it('shows a command made slow on purpose, with its time, duration, arguments, client and the threshold', async () => {
    const registry = await ready({ connections: { main: { connection: own.url } } });
    const before = Math.floor(Date.now() / 1000) * 1000;
    await slow.call('DEBUG', 'SLEEP', '0.25');
    const view = await slowlogView(registry.get('main'), {}, { showArguments: true });
    expect(view).toMatchObject({ connection: 'main', topology: 'standalone' });
    expect(view.nodes).toHaveLength(1);
    const node = view.nodes[0]!;
    expect(node).toMatchObject({
      address: `127.0.0.1:${own.port}`,
      slowerThanUs: 100_000,
      maxLen: 128,
      latency: { enabled: false, thresholdMs: 0, events: [] },
    });
    expect(node.length).toBe(1);
    const [entry] = node.entries;
    expect(entry!.command).toEqual(['DEBUG', 'SLEEP', '0.25']);
    expect(entry!.durationUs).toBeGreaterThanOrEqual(250_000);
    expect(entry!.clientName).toBe('slow-test-client');
    expect(entry!.client).toBe(`127.0.0.1:${slow.stream.localPort}`);
    expect(Date.parse(entry!.time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(entry!.time)).toBeLessThanOrEqual(Date.now());
  });

  it('LATENCY LATEST when latency monitoring is on', async () => {
    const registry = await ready({ connections: { main: { connection: own.url } } });
    await slow.config('SET', 'latency-monitor-threshold', '100');
    try {
      await slow.call('DEBUG', 'SLEEP', '0.2');
      const node = (await slowlogView(registry.get('main'), { count: '5' })).nodes[0]!;
      expect(node.latency.enabled).toBe(true);
      expect(node.latency.thresholdMs).toBe(100);
      const command = node.latency.events.find((e) => e.event === 'command');
      expect(command?.latestMs).toBeGreaterThanOrEqual(200);
      expect(command?.maxMs).toBeGreaterThanOrEqual(command!.latestMs);
      expect(node.entries.length).toBeLessThanOrEqual(5);
    } finally {
      await slow.config('SET', 'latency-monitor-threshold', '0');
    }
  });

  it("arguments only for admins who may read keys; a session key's value only for those who may read sessions", async () => {
    const registry = await ready({ connections: { main: { connection: own.url } } });
    const p = randomPrefix('slow');
    await slow.config('SET', 'slowlog-log-slower-than', '0'); // log every command
    try {
      await slow.set(`sess:${p}`, 'session-secret-value');
      await slow.set(`${p}long`, 'v'.repeat(500));
      // ioredis sends command names in lower case; the slow log keeps them as sent.
      const find = (view: Awaited<ReturnType<typeof slowlogView>>, key: string) =>
        view.nodes[0]!.entries.find((e) => e.command[0] === 'set' && (e.command[1] ?? '') === key);
      const reader = await slowlogView(registry.get('main'), { count: '20' }, { showArguments: false });
      expect(
        reader.nodes[0]!.entries.filter((e) => e.command[0] === 'set').every(
          (e) => e.command.length === 1 && e.argumentsWithheld === 2 && e.withheld === 'keys.read',
        ),
      ).toBe(true);
      const browser = await slowlogView(registry.get('main'), { count: '20' }, { showArguments: true, sessionPrefixes: ['sess:'] });
      expect(find(browser, `sess:${p}`)).toMatchObject({ command: ['set', `sess:${p}`], argumentsWithheld: 1, withheld: 'session' });
      const long = find(browser, `${p}long`)!;
      // Redis keeps 128 bytes of an argument ("... (372 more bytes)"); the view shows ARG_MAX_CHARS of that.
      expect(long.command[2]).toMatch(new RegExp(`^v{${ARG_MAX_CHARS}}… \\(\\d+ more characters\\)$`));
      const sessions = await slowlogView(registry.get('main'), { count: '20' }, { showArguments: true, canReadSessions: true, sessionPrefixes: ['sess:'] });
      expect(find(sessions, `sess:${p}`)!.command).toEqual(['set', `sess:${p}`, 'session-secret-value']);
    } finally {
      await slow.config('SET', 'slowlog-log-slower-than', '100000');
    }
  });

  it('the shown command: cut, capped, redacted', () => {
    const many = ['MSET', ...Array.from({ length: 40 }, (_, i) => `k${i}`)];
    expect(shownCommand(many, { showArguments: true })).toMatchObject({ argumentsWithheld: 25, withheld: 'length' });
    expect(shownCommand(many, { showArguments: true }).command).toHaveLength(16);
    expect(shownCommand(['SET', 'k', 'redis://:hunter2@host:6379'], { showArguments: true }).command.join(' ')).not.toContain('hunter2');
    expect(shownCommand(['PING'], {})).toEqual({ command: ['PING'] });
  });

  it('count is checked', async () => {
    const registry = await ready({ connections: { main: { connection: own.url } } });
    await expect(slowlogView(registry.get('main'), { count: '0' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^count: /) });
    await expect(slowlogView(registry.get('main'), { count: '500' })).rejects.toMatchObject({ status: 400 });
  });

  it('cluster: every master and replica (read only, on the shared cluster)', async () => {
    const registry = await ready({ connections: { c: { connection: { nodes: redis.cluster.nodes } } } });
    const view = await slowlogView(registry.get('c'), { count: '3' });
    expect(view.topology).toBe('cluster');
    expect(view.nodes.map((n) => n.role)).toEqual(['master', 'master', 'master', 'replica', 'replica', 'replica']);
    for (const n of view.nodes) {
      expect(n.error).toBeUndefined();
      expect(typeof n.slowerThanUs).toBe('number');
      expect(n.entries.length).toBeLessThanOrEqual(3);
    }
  });

  it('a connection that is down is a 503, at once', async () => {
    const registry = makeRegistry({ connections: { gone: { connection: 'redis://127.0.0.1:1', readyTimeout: 200 } } });
    await registry.waitUntilReady();
    const started = Date.now();
    await expect(slowlogView(registry.get('gone'), {})).rejects.toMatchObject({ name: 'RedisUnavailableError' });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
