/**
 * The schema helpers: zod issues become the suite's messages (path, masked value, expected, "did
 * you mean"), one pass reports every problem, and conversions and defaults live in the schema.
 */
import { describe, expect, it } from 'vitest';
import { RedisSuiteConfigError } from '../../src/core/errors.js';
import {
  always,
  bool,
  closest,
  collectIssues,
  convert,
  fn,
  formatPath,
  int,
  ms,
  oneOf,
  optionDefaults,
  optionNames,
  options,
  parseOptions,
  plainObject,
  select,
  str,
  z,
} from '../../src/core/schema.js';

const issuesOf = (schema: z.ZodType, input: unknown, root = 'opts') => {
  const r = collectIssues(schema, input, root);
  return r.ok ? [] : r.issues;
};

describe('builders', () => {
  it('each builder gives its own "expected" text and the value with its type', () => {
    const schema = options({
      on: bool().optional(),
      wait: ms(1).optional(),
      port: int(1, 65535, 'an integer port from 1 to 65535').optional(),
      name: str('a non-empty string', 'blank').optional(),
      mode: oneOf(['proceed', 'fail']).optional(),
      hook: fn().optional(),
      extra: plainObject().optional(),
    });
    expect(issuesOf(schema, { on: 'yes', wait: 0.5, port: 0, name: '  ', mode: 'x', hook: 1, extra: [] })).toEqual([
      { path: 'opts.on', got: '"yes" (string)', expected: 'true or false' },
      { path: 'opts.wait', got: '0.5 (number)', expected: 'an integer number of milliseconds >= 1' },
      { path: 'opts.port', got: '0 (number)', expected: 'an integer port from 1 to 65535' },
      { path: 'opts.name', got: '"  " (string)', expected: 'a non-empty string' },
      { path: 'opts.mode', got: '"x" (string)', expected: '"proceed" or "fail"' },
      { path: 'opts.hook', got: '1 (number)', expected: 'a function' },
      { path: 'opts.extra', got: '[] (array)', expected: 'an object' },
    ]);
    expect(issuesOf(schema, { on: true, wait: 5, port: 6379, name: 'x', mode: 'fail', hook: () => 1, extra: {} })).toEqual([]);
  });

  it('oneOf lists three or more values with commas', () => {
    expect(issuesOf(oneOf(['allow', 'deny', 'memory']), 'x')[0]?.expected).toBe('"allow", "deny" or "memory"');
  });
});

describe('unknown keys', () => {
  it('are reported one by one, with a did-you-mean, the known options and a hint', () => {
    const schema = options({ enableRedlock: bool().optional(), lockTTL: ms(1).optional() }, { hint: '; see the docs' });
    expect(issuesOf(schema, { enableRedlok: true, zzzzzzzz: 1 }, 'redis.settings')).toEqual([
      {
        path: 'redis.settings.enableRedlok',
        got: 'true (boolean)',
        expected: 'no such option (did you mean "enableRedlock"?); known options: enableRedlock, lockTTL; see the docs',
      },
      { path: 'redis.settings.zzzzzzzz', got: '1 (number)', expected: 'no such option; known options: enableRedlock, lockTTL; see the docs' },
    ]);
  });

  it('a refused key gives its reason; an open set lets unknown keys through, kept in the output', () => {
    const refused = options({ max: int(0).optional() }, { refused: { store: 'no store here; remove it' } });
    expect(issuesOf(refused, { store: {} })).toEqual([{ path: 'opts.store', got: '{} (object)', expected: 'no store here; remove it' }]);
    const open = options({ port: int(1).optional() }, { open: true });
    expect(collectIssues(open, { port: 1, family: 4 }, 'opts')).toEqual({ ok: true, value: { port: 1, family: 4 } });
  });

  it('closest() finds near names only', () => {
    expect(closest('requestTimout', ['readyTimeout', 'requestTimeout'])).toBe('requestTimeout');
    expect(closest('connection', ['settings', 'connections'])).toBe('connections');
    expect(closest('banana', ['settings', 'connections'])).toBeUndefined();
  });
});

describe('values in messages', () => {
  it('masks secrets by key name and URL passwords', () => {
    const schema = options({
      password: str().optional(),
      url: str()
        .refine((v) => v.startsWith('redis://'), { error: 'a redis:// URL' })
        .optional(),
    });
    expect(issuesOf(schema, { password: { value: 'hunter22' }, url: 'http://u:hunter22@h' })).toEqual([
      { path: 'opts.password', got: '*** (object)', expected: 'a string' },
      { path: 'opts.url', got: '"http://u:***@h" (string)', expected: 'a redis:// URL' },
    ]);
    // an unknown key that looks like a secret is masked too
    expect(JSON.stringify(issuesOf(options({}), { password: 'hunter22' }))).not.toContain('hunter22');
  });

  it('paths: dots for keys, brackets for indexes', () => {
    expect(formatPath('redis', ['connections', 'my cache', 'nodes', 0, 'port'])).toBe('redis.connections.my cache.nodes[0].port');
    const schema = options({ nodes: z.array(options({ port: int(1, 65535, 'an integer port') }, { open: true })) });
    expect(issuesOf(schema, { nodes: [{ port: 1 }, { port: 'x' }] })[0]?.path).toBe('opts.nodes[1].port');
  });
});

describe('one pass reports every problem', () => {
  it('cross-field checks run even when a field already failed', () => {
    const schema = always(options({ a: int(0).optional(), b: int(0).optional() }), (value, report) => {
      const v = value as { a?: unknown; b?: unknown };
      if (v.a !== undefined && v.b !== undefined) report(['b'], v.b, 'to be left out when a is set');
    });
    expect(issuesOf(schema, { a: 'x', b: 2, zzzz: 1 }).map((i) => [i.path, i.expected.slice(0, 16)])).toEqual([
      ['opts.a', 'an integer from '],
      ['opts.zzzz', 'no such option; '],
      ['opts.b', 'to be left out w'],
    ]);
  });

  it('select() checks a value by the schema its shape picks, keeping nested paths', () => {
    const cluster = options({ nodes: z.array(int(1, 65535, 'a port'), { error: 'an array of nodes' }) });
    const single = options({ port: int(1, 65535, 'a port').optional() }, { open: true });
    const conn = select<unknown>((v) => (typeof v === 'string' ? str() : !plainObjectLike(v) ? 'a URL or an object' : 'nodes' in v ? cluster : single));
    const schema = options({ c: conn });
    expect(issuesOf(schema, { c: { nodes: [1, 'x'] } })).toEqual([{ path: 'opts.c.nodes[1]', got: '"x" (string)', expected: 'a port' }]);
    expect(issuesOf(schema, { c: 5 })).toEqual([{ path: 'opts.c', got: '5 (number)', expected: 'a URL or an object' }]);
    expect(collectIssues(schema, { c: { port: 2, tls: {} } }, 'opts')).toEqual({ ok: true, value: { c: { port: 2, tls: {} } } });
  });
});

const plainObjectLike = (v: unknown): v is object => typeof v === 'object' && v !== null;

describe('defaults and conversion come from the schema', () => {
  const schema = options({
    interval: convert((v) => {
      if (typeof v === 'number' && v >= 1) return Math.ceil(v);
      if (typeof v === 'object' && v !== null && 'sec' in v && typeof v.sec === 'number') return v.sec * 1000;
      throw 'a duration in ms or { sec }';
    }).default(60_000),
    max: int(0).default(5),
  });

  it('fills defaults and converts units', () => {
    expect(parseOptions(schema, {}, { root: 'options', error: (i) => new RedisSuiteConfigError('options', i) })).toEqual({ interval: 60_000, max: 5 });
    expect(parseOptions(schema, { interval: { sec: 2 } }, { root: 'options', error: (i) => new RedisSuiteConfigError('options', i) }).interval).toBe(2000);
  });

  it('throws the feature error listing every problem, with a stable code', () => {
    let err: unknown;
    try {
      parseOptions(schema, { interval: 'soon', max: -1 }, { root: 'options', error: (i) => new RedisSuiteConfigError('options of test()', i) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedisSuiteConfigError);
    const e = err as RedisSuiteConfigError;
    expect(e.code).toBe('REDIS_SUITE_OPTIONS');
    expect(e.where).toBe('options of test()');
    expect(e.issues.map((i) => i.path)).toEqual(['options.interval', 'options.max']);
    expect(e.message).toBe(
      'Invalid options of test() (2 problems):\n' +
        '  - options.interval: got "soon" (string); expected a duration in ms or { sec }\n' +
        '  - options.max: got -1 (number); expected an integer from 0 to 9007199254740991',
    );
  });
});

describe('what the docs read', () => {
  it('option names and defaults come from the shape', () => {
    const shape = { interval: ms(1).default(60_000), keyBy: oneOf(['ip', 'user']).optional(), name: str().nullable().default(null), max: int(0).default(5) };
    expect(optionNames(shape)).toEqual(['interval', 'keyBy', 'name', 'max']);
    expect(optionDefaults(shape)).toEqual({ interval: 60_000, name: null, max: 5 });
  });
});
