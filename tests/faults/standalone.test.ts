/**
 * Fault tests on a standalone server this file starts itself: SIGKILL + restart while in use,
 * SIGSTOP (a hung server), and secrets (right and wrong passwords) kept out of every output.
 */
import { randomBytes } from 'node:crypto';
import createDebug from 'debug';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis as RedisClient } from 'ioredis';
import { RedisTimeoutError, RedisUnavailableError, createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { lazyConnection } from '../../src/core/resolve.js';
import { randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { figure } from './support.js';

const open: RedisRegistry[] = [];
const make = (...args: Parameters<typeof createRedisRegistry>): RedisRegistry => {
  const r = createRedisRegistry(...args);
  open.push(r);
  return r;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

const canary = (label: string): string => `${label}-canary-${randomBytes(8).toString('hex')}`;
const PASSWORD = canary('pw');

let killed: ServerHandle;
let paused: ServerHandle;
let secured: ServerHandle;
let dropped: ServerHandle;

beforeAll(async () => {
  [killed, paused, secured, dropped] = await Promise.all([startStandalone(), startStandalone(), startStandalone({ password: PASSWORD }), startStandalone()]);
});

afterAll(async () => {
  await Promise.allSettled([killed, paused, secured, dropped].filter(Boolean).map((handle) => handle.stop()));
});

describe('standalone: commands in flight when the connection closes', () => {
  it('reject at once with RedisUnavailableError (cause kept), not after requestTimeout; ioredis may still resend them', async () => {
    const logger = captureLogger();
    // A bound far above what the test allows, so "at once" and "after the bound" cannot be confused.
    const requestTimeout = 5000;
    const reg = make({ connections: { main: { connection: dropped.url, requestTimeout } } }, { logger });
    expect(await reg.waitUntilReady()).toEqual({ main: 'ready' });
    const conn = reg.get('main');
    // The same bound on a raw client (plain Koa / Apollo apps pass { client }).
    const raw = new RedisClient(dropped.url);
    raw.on('error', () => undefined);
    const rawConn = lazyConnection({ client: raw }, 'test')();
    try {
      await waitFor(() => raw.status === 'ready', 5000, 'raw client ready');
      const prefix = randomPrefix('drop');
      // A blocking command keeps every command behind it on the connection unanswered (in flight)
      // until the server dies. BLPOP's own 1 s timeout keeps a resent copy harmless after restart.
      const settle = (p: Promise<unknown>) =>
        p.then(
          () => ({ ok: true as const, at: performance.now() }),
          (err: unknown) => ({ ok: false as const, err, at: performance.now() }),
        );
      const calls = [
        settle(conn.run((client) => (client as RedisClient).blpop(`${prefix}list`, 1))),
        ...Array.from({ length: 10 }, (_, i) => settle(conn.run((client) => client.set(`${prefix}k${i}`, String(i))))),
        settle(rawConn.run((client) => (client as RedisClient).blpop(`${prefix}raw-list`, 1), requestTimeout)),
        settle(rawConn.run((client) => client.set(`${prefix}raw`, 'r'), requestTimeout)),
      ];
      // Sent (written to the socket) before the kill; nothing can have been answered yet.
      await new Promise((r) => setTimeout(r, 100));
      const killedAt = performance.now();
      await dropped.kill('SIGKILL');
      const results = await Promise.all(calls);
      const waits = results.map((r) => Math.round(r.at - killedAt));
      // "At once": the socket closes when the process dies; a margin for a loaded 2-core machine.
      const kinds = results.map((r) => (r.ok ? 'ok' : (r.err as Error).name));
      expect(Math.max(...waits), `waits after SIGKILL: ${waits.join(', ')} ms (${kinds.join(', ')})`).toBeLessThan(200);
      for (const r of results) {
        expect(r.ok).toBe(false);
        if (r.ok) continue;
        expect(r.err, String(r.err)).toBeInstanceOf(RedisUnavailableError);
        const e = r.err as RedisUnavailableError;
        expect(e.message).toMatch(/closed while the command was in flight/);
        expect(e.message).toMatch(/may resend it after reconnecting/);
        expect(e.cause).toBeInstanceOf(Error);
      }
      figure(`in-flight commands after SIGKILL rejected in ${Math.min(...waits)}-${Math.max(...waits)} ms (requestTimeout ${requestTimeout} ms)`);

      // The outcome was unknown, as documented: ioredis resends unanswered commands after it
      // reconnects, so a write run() already failed may still be applied.
      await dropped.restart();
      await waitFor(() => conn.isReady, 15_000, 'ready after restart');
      const check = new RedisClient(dropped.url);
      try {
        await waitFor(async () => (await check.get(`${prefix}k9`)) === '9', 10_000, 'the failed SET to be resent and applied');
      } finally {
        check.disconnect();
      }
      expect(logger.of('error')).toEqual([]);
    } finally {
      raw.disconnect();
    }
  }, 60_000);
});

describe('standalone: SIGKILL and restart while in use', () => {
  it('warns once, fails fast while down, logs one recovery line, and works again', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    const consoleError = vi.spyOn(console, 'error');
    try {
      const logger = captureLogger();
      const requestTimeout = 2000;
      const reg = make({ connections: { main: { connection: { host: killed.host, port: killed.port }, requestTimeout } } }, { logger });
      expect(await reg.waitUntilReady()).toEqual({ main: 'ready' });
      const conn = reg.get('main');
      const client = conn.client as Redis;
      let reconnects = 0;
      client.on('reconnecting', () => reconnects++);

      const prefix = randomPrefix('kill');
      const key = `${prefix}k`;
      await conn.run((c) => c.set(key, 'before'));

      // In use: a burst of commands is in flight when the server dies. Each is bounded by run().
      const inFlight = Array.from({ length: 20 }, (_, i) =>
        conn
          .run((c) => c.set(`${prefix}burst:${i}`, String(i)))
          .then(
            () => 'ok' as const,
            (e: unknown) => e,
          ),
      );
      const killedAt = Date.now();
      await killed.kill('SIGKILL');
      expect(killed.isAlive()).toBe(false);

      await waitFor(() => reconnects >= 5, 15_000, '5 reconnect attempts');

      // One warning for the whole outage, however many reconnects and errors happened.
      const warns = logger.of('warn');
      expect(warns, logger.all()).toHaveLength(1);
      expect(warns[0]).toMatch(/connection "main" \(redis:\/\/127\.0\.0\.1:\d+\/0\) is down: /);
      expect(warns[0]).toMatch(/further errors are logged at debug level/);

      expect(conn.isReady).toBe(false);
      const down = (await reg.status()).connections[0]!;
      expect(down.ready).toBe(false);
      expect(down.state).not.toBe('ready');
      expect(down.lastError).toEqual(expect.any(String));
      expect(down.lastError!.length).toBeGreaterThan(0);
      expect(down.downForMs).toBeGreaterThan(0);
      expect(down.downForMs!).toBeLessThanOrEqual(Date.now() - killedAt + 50);
      expect(down.pingMs).toBeNull();

      // No wait in ioredis' offline queue: refused at once.
      const t0 = performance.now();
      const err = await conn.run((c) => c.get(key)).catch((e: unknown) => e);
      const refusedIn = performance.now() - t0;
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as RedisUnavailableError).state).not.toBe('ready');
      expect(refusedIn).toBeLessThan(requestTimeout / 10);

      const restartAt = Date.now();
      await killed.restart();
      await waitFor(() => conn.isReady, 15_000, 'ready after restart');

      const infos = logger.of('info').filter((l) => /ready again after \d+ ms/.test(l));
      expect(infos, logger.all()).toHaveLength(1);
      const downMs = Number(/ready again after (\d+) ms/.exec(infos[0]!)?.[1]);
      // Down from (about) the kill until now, so at least as long as the server was gone.
      expect(downMs).toBeGreaterThanOrEqual(restartAt - killedAt - 50);
      expect(downMs).toBeLessThanOrEqual(Date.now() - killedAt + 50);

      // The restarted server is empty (no persistence): SET/GET round trip works.
      expect(await conn.run((c) => c.set(key, 'after'))).toBe('OK');
      expect(await conn.run((c) => c.get(key))).toBe('after');
      const up = (await reg.status()).connections[0]!;
      expect(up).toMatchObject({ ready: true, state: 'ready' });
      expect(up.lastError).toBeUndefined();
      expect(up.downForMs).toBeUndefined();

      // Every in-flight command settled (bounded by requestTimeout), none escaped unhandled.
      const settled = await Promise.all(inFlight);
      for (const s of settled) if (s !== 'ok') expect(s).toBeInstanceOf(Error);

      expect(logger.of('error'), logger.all()).toEqual([]);
      expect(logger.all()).not.toMatch(/Unhandled/);
      expect(logger.of('warn')).toHaveLength(1);
      const ioredisUnhandled = consoleError.mock.calls.filter((args) => String(args[0]).includes('Unhandled error event'));
      expect(ioredisUnhandled).toEqual([]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      consoleError.mockRestore();
    }
  });
});

describe('standalone: SIGSTOP (a hung server)', () => {
  it('run() fails with RedisTimeoutError after requestTimeout (200 ms by default), and works again after SIGCONT', async () => {
    const logger = captureLogger();
    const reg = make({ connections: { hung: { connection: paused.url, requestTimeout: 200 }, byDefault: { connection: paused.url } } }, { logger });
    expect(await reg.waitUntilReady()).toEqual({ hung: 'ready', byDefault: 'ready' });
    const conn = reg.get('hung');
    const byDefault = reg.get('byDefault');
    const key = `${randomPrefix('stop')}k`;
    expect(await conn.run((client) => client.set(key, 'v'))).toBe('OK');

    paused.pause();
    try {
      const t0 = performance.now();
      const err = await conn.run((client) => client.get(key)).catch((e: unknown) => e);
      const took = performance.now() - t0;
      expect(err).toBeInstanceOf(RedisTimeoutError);
      expect((err as Error).message).toMatch(/within 200 ms \(redis\.connections\.hung\.requestTimeout\)/);
      expect(took).toBeGreaterThanOrEqual(190);
      expect(took).toBeLessThan(2000);
      // The socket is still open: to ioredis a hung server looks ready; only the bound protects.
      expect(conn.isReady).toBe(true);

      // No requestTimeout configured: the default bound, 200 ms (issue 13 item 12; RELIABILITY.md finding 14).
      const d0 = performance.now();
      const dErr = await byDefault.run((client) => client.get(key)).catch((e: unknown) => e);
      const dTook = performance.now() - d0;
      expect(dErr).toBeInstanceOf(RedisTimeoutError);
      expect((dErr as Error).message).toMatch(/within 200 ms \(redis\.connections\.byDefault\.requestTimeout\)/);
      expect(dTook).toBeGreaterThanOrEqual(190);
      expect(dTook).toBeLessThan(200 + 500);
    } finally {
      paused.resume();
    }
    // Commands fail at once until the timed-out GET's late reply arrives (tests/chaos/unanswered.test.ts).
    await waitFor(async () => (await conn.run((client) => client.get(key), 2000).catch(() => null)) === 'v', 3000, 'the late reply after SIGCONT');
    expect(await conn.run((client) => client.set(key, 'v2'), 2000)).toBe('OK');
    expect(await conn.run((client) => client.get(key), 2000)).toBe('v2');
    expect(logger.of('error')).toEqual([]);
  });
});

describe('standalone: password canaries', () => {
  it('the right password (URL and object form) works and never shows in status or logs', async () => {
    const logger = captureLogger();
    const reg = make(
      {
        connections: {
          byUrl: { connection: `redis://:${PASSWORD}@${secured.host}:${secured.port}` },
          byObj: { connection: { host: secured.host, port: secured.port, password: PASSWORD } },
        },
      },
      { logger },
    );
    expect(await reg.waitUntilReady()).toEqual({ byUrl: 'ready', byObj: 'ready' });
    const key = `${randomPrefix('pw')}k`;
    expect(await reg.get('byUrl').run((client) => client.set(key, 'secret-ok'))).toBe('OK');
    expect(await reg.get('byObj').run((client) => client.get(key))).toBe('secret-ok');

    const status = await reg.status();
    expect(status.ok).toBe(true);
    const json = JSON.stringify(status);
    expect(json).not.toContain(PASSWORD);
    expect(status.connections.find((conn) => conn.name === 'byUrl')?.endpoint).toBe(`redis://:***@127.0.0.1:${secured.port}`);
    expect(logger.all()).not.toContain(PASSWORD);
  });

  it('a wrong password (itself a canary) never shows in warnings, lastError or status', async () => {
    const wrongObj = canary('wrong-obj');
    const wrongUrl = canary('wrong-url');
    const logger = captureLogger();
    const reg = make(
      {
        connections: {
          badObj: { connection: { host: secured.host, port: secured.port, password: wrongObj }, readyTimeout: 800 },
          badUrl: { connection: `redis://:${wrongUrl}@${secured.host}:${secured.port}`, readyTimeout: 800 },
        },
      },
      { logger },
    );
    expect(await reg.waitUntilReady()).toEqual({ badObj: 'timeout', badUrl: 'timeout' });
    for (const name of ['badObj', 'badUrl']) {
      const conn = reg.get(name);
      expect(conn.isReady).toBe(false);
      expect(conn.lastError).toMatch(/WRONGPASS|NOAUTH|invalid (username-)?password/i);
    }
    const warns = logger.of('warn');
    // Per connection: one "is down" line and one "not ready after 800 ms" line, no flood.
    expect(warns.filter((w) => /is down: /.test(w))).toHaveLength(2);
    expect(warns.filter((w) => /was not ready after 800 ms/.test(w))).toHaveLength(2);
    expect(warns.join('\n')).toMatch(/WRONGPASS|NOAUTH/);

    const json = JSON.stringify(await reg.status());
    const everything = `${logger.all()}\n${json}\n${reg.get('badObj').lastError}\n${reg.get('badUrl').lastError}`;
    for (const secret of [wrongObj, wrongUrl, PASSWORD]) expect(everything).not.toContain(secret);
    expect(json).toMatch(/"lastError":"[^"]*(WRONGPASS|NOAUTH)/);
  });

  it('debugIORedis: ioredis debug output shows the AUTH command but never a password', async () => {
    const wrong = canary('wrong-dbg');
    const written: string[] = [];
    const originalWrite = process.stderr.write;
    const capture = (chunk: unknown): boolean => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      return true;
    };
    process.stderr.write = capture as typeof process.stderr.write;
    try {
      const logger = captureLogger();
      const reg = make(
        {
          settings: { debugIORedis: true },
          connections: {
            good: { connection: `redis://:${PASSWORD}@${secured.host}:${secured.port}` },
            bad: { connection: { host: secured.host, port: secured.port, password: wrong }, readyTimeout: 800 },
          },
        },
        { logger },
      );
      const report = await reg.waitUntilReady();
      expect(report).toEqual({ good: 'ready', bad: 'timeout' });
      const key = `${randomPrefix('dbg')}k`;
      expect(await reg.get('good').run((client) => client.set(key, 'seen'))).toBe('OK');
      await waitFor(() => written.join('').includes(key), 5000, 'the SET to show in ioredis debug output');
      await reg.close();
    } finally {
      process.stderr.write = originalWrite;
      createDebug.disable();
      if (process.env.DEBUG) createDebug.enable(process.env.DEBUG);
    }
    const out = written.join('');
    expect(out).toMatch(/ioredis:redis/);
    // Both connections sent AUTH; the argument is scrubbed.
    expect(out).toMatch(/-> auth\(/i);
    expect(out).toContain('***');
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain(wrong);
  });
});
