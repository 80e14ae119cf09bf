import { describe, expect, it } from 'vitest';
import { DEFAULT_REDIS_URL, DEFAULT_REQUEST_TIMEOUT_MS, RedisConfigError, validateConfig } from '../../src/index.js';
import { collectConfigIssues, resolveConfig } from '../../src/core/config.js';
import { topologyOf } from '../../src/core/topology.js';
import { BAD_CONFIGS, CANARY } from '../fixtures/bad-configs.js';

describe('config validation', () => {
  it('has at least 20 distinct bad configs', () => {
    expect(BAD_CONFIGS.length).toBeGreaterThanOrEqual(20);
    expect(new Set(BAD_CONFIGS.map((b) => b.title)).size).toBe(BAD_CONFIGS.length);
  });

  it.each(BAD_CONFIGS)('rejects $title, naming $path', ({ config, path, expect: expected }) => {
    let error: unknown;
    try {
      validateConfig(config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RedisConfigError);
    const err = error as RedisConfigError;
    const issue = err.issues.find((i) => i.path === path);
    expect(issue, `issues: ${JSON.stringify(err.issues)}`).toBeDefined();
    expect(issue!.expected).toMatch(expected);
    expect(err.message).toContain(path);
    expect(err.message).not.toContain(CANARY);
    expect(JSON.stringify(err.issues)).not.toContain(CANARY);
  });

  it('shows the value it got, with its type', () => {
    const issues = collectConfigIssues({ connections: { cache: { connection: { port: 'abc' } } } });
    expect(issues).toEqual([
      {
        path: 'redis.connections.cache.connection.port',
        got: '"abc" (string)',
        expected: 'an integer port from 1 to 65535',
      },
    ]);
  });

  it('masks a password that is itself the bad value', () => {
    const issues = collectConfigIssues({ connections: { c: { connection: { host: 'a', password: { value: CANARY } } } } });
    expect(issues[0]?.path).toBe('redis.connections.c.connection.password');
    expect(issues[0]?.got).toBe('*** (object)');
  });

  it('masks URL passwords in the value it shows', () => {
    const issues = collectConfigIssues({ connections: { c: { connection: `ftp://admin:${CANARY}@h:1` } } });
    expect(issues[0]?.got).toBe('"ftp://admin:***@h:1" (string)');
  });

  it('reports every problem at once', () => {
    const issues = collectConfigIssues({
      settings: { debug: 1 },
      connections: { a: { connection: { port: 0 } }, b: { connection: { nodes: [] } } },
    });
    expect(issues.map((i) => i.path)).toEqual(['redis.settings.debug', 'redis.connections.a.connection.port', 'redis.connections.b.connection.nodes']);
  });

  it('accepts the v2 config shapes unchanged', () => {
    const v2 = {
      settings: {
        debug: false,
        debugIORedis: false,
        enableRedlock: true,
        lockTTL: 5000,
        lockDelay: null,
        redlockConfig: { driftFactor: 0.01, retryCount: 10, retryDelay: 200, retryJitter: 200 },
      },
      connections: {
        default: { connection: { host: '127.0.0.1', port: 6379, db: 0 }, settings: { debug: false } },
        tls: { connection: { host: '127.0.0.1', port: 6379, db: 0, username: 'u', password: 'p', tls: { ca: Buffer.from('x') } } },
        ha: { connection: { sentinels: [{ host: '192.168.1.101', port: 26379 }], name: 'my-redis-replicaSet', db: 0 } },
        socket: { connection: { socket: { socketPath: '/var/run/redis/redis.sock' }, db: 0 } },
        cluster: { connection: { nodes: [{ host: '10.0.0.1', port: 7000 }], options: {} } },
      },
    };
    expect(collectConfigIssues(v2)).toEqual([]);
  });

  it('accepts URL strings with user, password and db', () => {
    expect(collectConfigIssues({ connections: { a: { connection: 'redis://user:pw@localhost:6380/3' }, b: { connection: 'rediss://h' } } })).toEqual([]);
  });
});

describe('resolveConfig', () => {
  it('uses one default connection when none are given', () => {
    for (const input of [undefined, {}, { connections: {} }, { settings: { debug: true } }]) {
      const r = resolveConfig(input);
      expect(Object.keys(r.connections)).toEqual(['default']);
      expect(r.connections.default?.connection).toBe(DEFAULT_REDIS_URL);
    }
  });

  it("never merges the default into the user's own list", () => {
    const r = resolveConfig({ connections: { cache: { connection: 'redis://cache:6379' } } });
    expect(Object.keys(r.connections)).toEqual(['cache']);
  });

  it('fills defaults and keeps enabled: false connections in the config', () => {
    const r = resolveConfig({
      settings: { readyTimeout: 100 },
      connections: { a: { connection: 'redis://a:1' }, b: { connection: 'redis://b:1', enabled: false, requestTimeout: 50, required: true } },
    });
    expect(r.settings).toMatchObject({ debug: false, enableRedlock: false, lockTTL: 5000, readyTimeout: 100 });
    expect(r.connections.a).toMatchObject({ enabled: true, readyTimeout: 100, requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS, required: false });
    // Issue 13 item 12: request-path features default to a bound no longer than 250 ms.
    expect(DEFAULT_REQUEST_TIMEOUT_MS).toBeLessThanOrEqual(250);
    expect(r.connections.b).toMatchObject({ enabled: false, requestTimeout: 50, required: true });
  });

  it('freezes the result and never mutates the input', () => {
    const ca = Buffer.from('cert');
    const input = {
      connections: {
        ha: { connection: { sentinels: [{ host: 'h', port: 26379 }], name: 'mymaster', host: 'ignored', port: 1 } },
        tls: { connection: { host: 'h', tls: { ca } } },
      },
    };
    const before = JSON.stringify(input);
    const r = resolveConfig(input);
    expect(JSON.stringify(input)).toBe(before);
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.connections.ha?.connection)).toBe(true);
    expect(r.connections.ha?.connection).not.toHaveProperty('host');
    expect((r.connections.tls?.connection as { tls: { ca: Buffer } }).tls.ca).toBe(ca);
    expect(() => {
      (r.settings as { debug: boolean }).debug = true;
    }).toThrow(TypeError);
  });

  it('maps the v2 socket spelling to ioredis path', () => {
    const r = resolveConfig({ connections: { s: { connection: { socket: { socketPath: '/tmp/r.sock' }, db: 2 } } } });
    expect(r.connections.s?.connection).toEqual({ path: '/tmp/r.sock', db: 2 });
    expect(r.connections.s?.endpoint).toBe('unix:/tmp/r.sock');
  });

  it('describes endpoints without secrets', () => {
    const r = resolveConfig({
      connections: {
        url: { connection: `redis://user:${CANARY}@h:6380/2` },
        obj: { connection: { host: 'h', port: 6380, password: CANARY, db: 1 } },
        cl: { connection: { nodes: [{ host: 'n1', port: 7000 }, 'n2:7001'] } },
        se: { connection: { sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster', password: CANARY } },
      },
    });
    expect(r.connections.url?.endpoint).toBe('redis://user:***@h:6380/2');
    expect(r.connections.obj?.endpoint).toBe('redis://h:6380/1');
    expect(r.connections.cl?.endpoint).toBe('cluster n1:7000,n2:7001');
    expect(r.connections.se?.endpoint).toBe('sentinel mymaster@s1:26379');
  });

  it('picks the client kind from the shape, in one place', () => {
    expect(topologyOf('redis://x')).toBe('standalone');
    expect(topologyOf({ host: 'x' })).toBe('standalone');
    expect(topologyOf({ nodes: [] })).toBe('cluster');
    expect(topologyOf({ sentinels: [], name: 'm' })).toBe('sentinel');
  });
});
