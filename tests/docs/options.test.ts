/**
 * Docs that cannot drift: every option a feature accepts is in its docs table (README.md or
 * docs/*.md, the table marked `<!-- options: <feature> -->`), with the same default, and every
 * option in a table exists. No servers, no Strapi: the lists are read from the code.
 *
 * What the code accepts comes from one small function per feature below (name -> default, with
 * `undefined` for "no default, or one derived at run time": such a default cell is not checked).
 * When option parsing moves to schemas, each function becomes a read of its schema.
 *
 * A default cell states a default when it starts with a code span holding a literal: `5000`,
 * `'rl:'`, `true`, `null`, `[]`, `{}`, `['accept-language']` (underscores in numbers allowed).
 * Text after it (units, "(`{ min: 1 }`)", ...) is free.
 */
import { describe, expect, it } from 'vitest';
import {
  CONNECTION_DEFAULTS,
  CONNECTION_OPTION_NAMES,
  CONNECTION_SETTINGS_OPTION_NAMES,
  DEFAULT_SETTINGS,
  SETTINGS_OPTION_NAMES,
} from '../../src/core/config.js';
import { RATE_LIMIT_DEFAULTS, RATE_LIMIT_OPTION_NAMES } from '../../src/middlewares/rate-limit/options.js';
import { RATE_LIMIT_STORE_DEFAULTS } from '../../src/middlewares/rate-limit/store.js';
import { CACHE_DEFAULTS, KNOWN as CACHE_OPTION_NAMES, RULE_KNOWN as CACHE_RULE_OPTION_NAMES } from '../../src/middlewares/cache/options.js';
import { SESSION_STORE_DEFAULTS } from '../../src/session/store.js';
import { STRAPI_SESSION_DEFAULTS } from '../../src/session/middleware.js';
import { APOLLO_CACHE_DEFAULTS } from '../../src/graphql/apollo-cache.js';
import { KEYV_DEFAULTS } from '../../src/graphql/keyv-store.js';
import { LOCK_OPTION_DEFAULTS } from '../../src/core/locks.js';
import { CRON_TASK_OPTION_DEFAULTS } from '../../src/core/cron-guard.js';
import { SOCKET_IO_ADAPTER_DEFAULTS } from '../../src/socketio/index.js';
import { codeSpans, docFiles, optionTables, type OptionRow } from './markdown.js';

type Accepted = Map<string, unknown>;

/** name -> default for each name; defaults missing from `defaults` are `undefined`. */
function accepted(names: Iterable<string>, defaults: Record<string, unknown> = {}): Accepted {
  const out: Accepted = new Map();
  for (const name of names) out.set(name, Object.prototype.hasOwnProperty.call(defaults, name) ? defaults[name] : undefined);
  for (const name of Object.keys(defaults)) {
    if (!out.has(name)) throw new Error(`a default for "${name}", which is not an accepted option`);
  }
  return out;
}

/** What the code accepts, per feature (the `<!-- options: <feature> -->` id). */
const FEATURES: Record<string, () => Accepted> = {
  // src/core/config.ts: redis.config.settings. The lock quorum and the webhook connection are
  // resolved from the connections (the first enabled one), so their defaults are not constants.
  settings: () => {
    const { redlockConnections: _q, webhookSyncConnection: _w, ...defaults } = DEFAULT_SETTINGS;
    return accepted(SETTINGS_OPTION_NAMES, defaults);
  },
  // src/core/config.ts: redis.config.connections.<name> (its v2 `settings` object as `settings.<key>`).
  connection: () =>
    accepted(
      CONNECTION_OPTION_NAMES.flatMap((name) => (name === 'settings' ? CONNECTION_SETTINGS_OPTION_NAMES.map((k) => `settings.${k}`) : [name])),
      CONNECTION_DEFAULTS,
    ),
  // src/core/locks.ts, src/core/cron-guard.ts, src/socketio
  locks: () => accepted(Object.keys(LOCK_OPTION_DEFAULTS), LOCK_OPTION_DEFAULTS),
  'cron-task': () => accepted(Object.keys(CRON_TASK_OPTION_DEFAULTS), CRON_TASK_OPTION_DEFAULTS),
  'socket-io': () => accepted(Object.keys(SOCKET_IO_ADAPTER_DEFAULTS), SOCKET_IO_ADAPTER_DEFAULTS),
  // src/middlewares/rate-limit/options.ts: durations are resolved to ms under a `...Ms` name.
  'rate-limit': () => {
    const { intervalMs, timeWaitMs, ...rest } = RATE_LIMIT_DEFAULTS;
    return accepted(RATE_LIMIT_OPTION_NAMES, { ...rest, interval: intervalMs, timeWait: timeWaitMs });
  },
  'rate-limit-store': () => accepted(Object.keys(RATE_LIMIT_STORE_DEFAULTS), RATE_LIMIT_STORE_DEFAULTS),
  // src/middlewares/cache/options.ts: CACHE_DEFAULTS.coalesce holds what `coalesce: true` means
  // (checked as cache-coalesce); `coalesce` itself is off unless given.
  cache: () => {
    const { coalesce: _c, ...defaults } = CACHE_DEFAULTS;
    return accepted(CACHE_OPTION_NAMES, defaults);
  },
  'cache-rule': () => accepted(CACHE_RULE_OPTION_NAMES),
  'cache-coalesce': () => accepted(Object.keys(CACHE_DEFAULTS.coalesce), CACHE_DEFAULTS.coalesce),
  // src/session: the store's options, and the koa-session options plugin::redis.session defaults.
  session: () => accepted(Object.keys(SESSION_STORE_DEFAULTS), SESSION_STORE_DEFAULTS),
  'session-cookie': () => accepted(Object.keys(STRAPI_SESSION_DEFAULTS), STRAPI_SESSION_DEFAULTS as Record<string, unknown>),
  // src/graphql
  'apollo-cache': () => accepted(Object.keys(APOLLO_CACHE_DEFAULTS), APOLLO_CACHE_DEFAULTS),
  keyv: () => accepted(Object.keys(KEYV_DEFAULTS), KEYV_DEFAULTS),
};

const LITERAL = /^(-?[\d_]+(\.\d+)?|'[^']*'|true|false|null|\[.*\]|\{.*\})$/;

/** The default a cell states, or `undefined` when it states none (text, or a reference like `settings.lockTTL`). */
function statedDefault(cell: string): { value: unknown } | undefined {
  if (!cell.startsWith('`')) return undefined;
  const span = codeSpans(cell)[0]!;
  if (!LITERAL.test(span)) return undefined;
  if (/^-?[\d_]+(\.\d+)?$/.test(span)) return { value: Number(span.replace(/_/g, '')) };
  // A JavaScript literal as written in the docs (strings, arrays, objects).
  return { value: new Function(`return (${span});`)() as unknown };
}

/** Every marked table row of every doc file, by feature. */
function documented(): Map<string, OptionRow[]> {
  const byFeature = new Map<string, OptionRow[]>();
  for (const file of docFiles()) {
    for (const table of optionTables(file)) {
      if (!FEATURES[table.feature]) throw new Error(`${table.where}: no feature "${table.feature}" in tests/docs/options.test.ts (known: ${Object.keys(FEATURES).join(', ')})`);
      byFeature.set(table.feature, [...(byFeature.get(table.feature) ?? []), ...table.rows]);
    }
  }
  return byFeature;
}

const docs = documented();

describe('option tables match the options the code accepts', () => {
  for (const [feature, read] of Object.entries(FEATURES)) {
    describe(feature, () => {
      const code = read();
      const rows = docs.get(feature) ?? [];
      const byName = new Map<string, OptionRow[]>();
      for (const row of rows) for (const name of row.names) byName.set(name, [...(byName.get(name) ?? []), row]);

      it('is documented in a marked table', () => {
        expect(rows.length, `no <!-- options: ${feature} --> table in README.md or docs/`).toBeGreaterThan(0);
      });

      it('documents every option the code accepts, once', () => {
        const missing = [...code.keys()].filter((name) => !byName.has(name));
        const twice = [...byName].filter(([, r]) => r.length > 1).map(([name, r]) => `${name} (${r.map((x) => x.where).join(', ')})`);
        expect(missing, `options of ${feature} missing from its docs table`).toEqual([]);
        expect(twice, `options of ${feature} documented twice`).toEqual([]);
      });

      it('documents no option the code does not accept', () => {
        const unknown = [...byName].filter(([name]) => !code.has(name)).map(([name, r]) => `${name} (${r[0]!.where})`);
        expect(unknown, `rows of ${feature} naming no accepted option`).toEqual([]);
      });

      it('states the code\'s default for every option that has one', () => {
        const wrong: string[] = [];
        for (const [name, value] of code) {
          const row = byName.get(name)?.[0];
          if (!row || value === undefined) continue;
          const stated = statedDefault(row.defaultCell);
          if (!stated) wrong.push(`${name} (${row.where}): the code's default is ${JSON.stringify(value)}; the docs state none ("${row.defaultCell}")`);
          else if (JSON.stringify(stated.value) !== JSON.stringify(value)) {
            wrong.push(`${name} (${row.where}): the code's default is ${JSON.stringify(value)}; the docs say ${JSON.stringify(stated.value)}`);
          }
        }
        expect(wrong).toEqual([]);
      });
    });
  }
});

describe('statedDefault', () => {
  it('reads literals and leaves references and text alone', () => {
    expect(statedDefault('`60_000` ms')).toEqual({ value: 60000 });
    expect(statedDefault("`'rl:'`")).toEqual({ value: 'rl:' });
    expect(statedDefault("`['accept-language']`")).toEqual({ value: ['accept-language'] });
    expect(statedDefault('`{}`, read as `{ driftFactor: 0.01 }`')).toEqual({ value: {} });
    expect(statedDefault('`null`')).toEqual({ value: null });
    expect(statedDefault('`settings.lockTTL`')).toBeUndefined();
    expect(statedDefault("the connection's `requestTimeout`")).toBeUndefined();
    expect(statedDefault('')).toBeUndefined();
  });
});
