/**
 * Docs that cannot drift: every option a feature accepts is in its docs table (README.md or
 * docs/*.md, the table marked `<!-- options: <feature> -->`), with the same default, and every
 * option in a table exists. No servers, no Strapi: the lists are read from the code.
 *
 * What the code accepts comes from one small function per feature below (name -> default, with
 * `undefined` for "no default, or one derived at run time": such a default cell is not checked).
 * Where a feature's options have a schema (src/core/schema.ts), its function reads the schema.
 *
 * A default cell states a default when it starts with a code span holding a literal: `5000`,
 * `'rl:'`, `true`, `null`, `[]`, `{}`, `['accept-language']` (underscores in numbers allowed).
 * Text after it (units, "(`{ min: 1 }`)", ...) is free.
 */
import { describe, expect, it } from 'vitest';
import { connectionEntrySchema, settingsSchema } from '../../src/core/config-schema.js';
import { optionDefaults, optionNames, type z } from '../../src/core/schema.js';
import { rateLimitShape } from '../../src/middlewares/rate-limit/options.js';
import { storeSchema as rateLimitStoreSchema } from '../../src/middlewares/rate-limit/store.js';
import { cacheShape } from '../../src/middlewares/cache/options.js';
import { cdnShape, coalesceShape, honorShape, purgeWebhookShape } from '../../src/middlewares/cache/option-groups.js';
import { ruleShape } from '../../src/middlewares/cache/rules.js';
import { sessionStoreSchema } from '../../src/session/store.js';
import { STRAPI_SESSION_DEFAULTS } from '../../src/session/middleware.js';
import { apolloCacheShape } from '../../src/graphql/apollo-cache.js';
import { keyvShape } from '../../src/graphql/keyv-store.js';
import { targetShape } from '../../src/graphql/target.js';
import { lockOptionsShape } from '../../src/core/locks.js';
import { cronTaskOptionsShape } from '../../src/core/cron-guard.js';
import { socketIoAdapterShape } from '../../src/socketio/index.js';
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

/** The options of a schema's shape and their defaults, as the schema gives them. */
const fromSchema = (shape: z.core.$ZodLooseShape): Accepted => accepted(optionNames(shape), optionDefaults(shape));

/** What the code accepts, per feature (the `<!-- options: <feature> -->` id). */
const FEATURES: Record<string, () => Accepted> = {
  // src/core/config-schema.ts: redis.config.settings. The lock quorum and the webhook connection
  // are resolved from the connections (the first enabled one), so their defaults are not constants.
  settings: () => {
    const { redlockConnections: _q, webhookSyncConnection: _w, ...defaults } = optionDefaults(settingsSchema.shape);
    return accepted(optionNames(settingsSchema.shape), defaults);
  },
  // src/core/config-schema.ts: redis.config.connections.<name> (its v2 `settings` object as `settings.<key>`).
  connection: () => {
    const entry = connectionEntrySchema.shape;
    const settingsKeys = optionNames(entry.settings.unwrap().shape);
    return accepted(
      optionNames(entry).flatMap((name) => (name === 'settings' ? settingsKeys.map((k) => `settings.${k}`) : [name])),
      optionDefaults(entry),
    );
  },
  // src/core/lock-types.ts, src/core/cron-guard.ts, src/socketio: their schemas
  locks: () => fromSchema(lockOptionsShape),
  'cron-task': () => fromSchema(cronTaskOptionsShape),
  'socket-io': () => fromSchema(socketIoAdapterShape),
  // src/middlewares/rate-limit: the middleware's schema (durations as given, in ms) and the store's.
  'rate-limit': () => fromSchema(rateLimitShape),
  'rate-limit-store': () => fromSchema(rateLimitStoreSchema.shape),
  // src/middlewares/cache: the options' schema (off-by-default groups default to `false`), a
  // rule's, and the groups' (what `true` or an object means), each checked as its own feature.
  cache: () => fromSchema(cacheShape),
  'cache-rule': () => fromSchema(ruleShape),
  'cache-coalesce': () => fromSchema(coalesceShape),
  'cache-cdn': () => fromSchema(cdnShape),
  'cache-purge-webhook': () => fromSchema(purgeWebhookShape),
  'cache-honor': () => fromSchema(honorShape),
  // src/session: the store's options, and the koa-session options plugin::redis.session defaults.
  session: () => fromSchema(sessionStoreSchema.shape),
  'session-cookie': () => accepted(Object.keys(STRAPI_SESSION_DEFAULTS), STRAPI_SESSION_DEFAULTS as Record<string, unknown>),
  // src/graphql
  'apollo-cache': () => fromSchema({ ...targetShape, ...apolloCacheShape }),
  keyv: () => fromSchema({ ...targetShape, ...keyvShape }),
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
      if (!FEATURES[table.feature])
        throw new Error(`${table.where}: no feature "${table.feature}" in tests/docs/options.test.ts (known: ${Object.keys(FEATURES).join(', ')})`);
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

      it("states the code's default for every option that has one", () => {
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
