/**
 * The schema of the plugin configuration (`config/plugins.ts`, `redis.config`): every option's
 * name, type, default and error message, in one place. `config.ts` derives the input and resolved
 * types and the defaults from it, and resolves a parsed config; the connection values have their
 * own schema (`connection-schema.ts`), `topology.ts` reads their shapes.
 */
import { connectionSchema, nonEmpty } from './connection-schema.js';
import { serverOf } from './topology.js';
import { always, bool, custom, isPlainObject, ms, oneOf, options, z, type Report } from './schema.js';
import { typeOf as typeOfValue } from './redact.js';

/** Used when no `connections` are configured at all. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The default `requestTimeout`, in ms: the bound on each request-path command (rate limit,
 * sessions, response cache writes, the Apollo cache, Keyv), and for a raw `client` given to those
 * features. Kept short so that a server that hangs costs a request at most this much per command
 * (a server that dies closes the socket, and commands in flight fail at once, see `runBounded`).
 * 200 ms, not 250: a request whose command waits out the bound ends the bound plus its timer's
 * lateness later, and at 250 ms that took requests past the 250 ms the chaos run allows beyond a
 * handler (RELIABILITY.md, finding 14).
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 200;

const NAMES_EXPECTED = "a non-empty array of connection names, like ['default'] or ['lockA', 'lockB', 'lockC']";
const isNameList = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === 'string' && n !== '');

export const settingsSchema = options({
  /** Log connection lifecycle details through Strapi's logger (info level). v2 name. */
  debug: bool().default(false),
  /** Turn on ioredis' own debug output (`DEBUG=ioredis:*`), with secrets scrubbed. v2 name. */
  debugIORedis: bool().default(false),
  /** Guard every cron task with a distributed lock. v2 name. */
  enableRedlock: bool().default(false),
  /** Lock TTL for cron tasks, in ms. v2 name. */
  lockTTL: ms(1).default(5000),
  /** v2 name, accepted and ignored: ticks are keyed by their schedule, not delayed. */
  lockDelay: ms(0).nullable().default(null),
  /** Options for the `redlock` package. v2 name. */
  redlockConfig: custom<Record<string, number>>((v) => {
    if (!isPlainObject(v)) return 'an object of redlock options ({ driftFactor, retryCount, retryDelay, retryJitter })';
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'number' || !Number.isFinite(x)) return `numeric redlock options (${k} is ${typeOfValue(x)})`;
    }
    return null;
  }).default({}),
  /** Default bound, in ms, on how long boot waits for each connection to become ready. */
  readyTimeout: ms(0).default(5000),
  /**
   * The connections that form the Redlock quorum: independent masters (an odd number avoids split
   * votes). Resolved to [the first enabled connection] when left out.
   */
  redlockConnections: custom<string[]>((v) => (isNameList(v) ? null : NAMES_EXPECTED)).default([]),
  /** Bound, in ms, on every lock acquire, retries included. */
  lockAcquireTimeout: ms(1).default(5000),
  /**
   * Hold a distributed lock around Strapi's bootstrap (migrations, the schema sync, the plugins'
   * and the app's seeding), so that one instance migrates while the others wait.
   * On whenever there is a lock connection (`redlockConnections`).
   */
  bootLock: bool().default(true),
  /** Bound, in ms, on how long boot waits for the boot lock held by another instance; then boot stops. */
  bootLockTimeout: ms(1).default(300_000),
  /** The boot lock's TTL in ms: extended while this instance syncs, expires this long after a holder died. */
  bootLockTTL: ms(1000).default(10_000),
  /**
   * When the boot lock cannot be taken because Redis is unavailable: `'proceed'` syncs without it
   * (with a warning), `'fail'` retries until `bootLockTimeout`, then stops boot.
   */
  bootLockOnError: oneOf(['proceed', 'fail']).default('proceed'),
  /**
   * Keep every instance's webhook runner in step: changes made through one instance's admin are
   * announced on a Redis channel and applied by the others.
   */
  webhookSync: bool().default(true),
  /** The connection that carries the webhook announcements. Resolved to the first enabled connection (null: none) when left out. */
  webhookSyncConnection: nonEmpty.optional().transform((v): string | null => v ?? null),
  /** The pub/sub channel of the webhook announcements. */
  webhookSyncChannel: nonEmpty.default('strapi-redis-suite:webhooks'),
  /**
   * Sample every connection's INFO for the admin panel's health charts, once per `healthInterval`
   * across all instances (a lock claim per interval elects the sampler).
   */
  healthSampling: bool().default(true),
  /** How often the health sampler runs, in ms (the charts keep the last 15 minutes). */
  healthInterval: ms(1000).default(10_000),
});

export const connectionEntrySchema = options(
  {
    /** A `redis://`/`rediss://` URL, ioredis options, `{ nodes, options }` (Cluster) or `{ sentinels, name }` (Sentinel). */
    connection: connectionSchema,
    /** Create this connection. */
    enabled: bool().default(true),
    /** v2 per-connection settings. */
    settings: options({ debug: bool().optional() }).optional(),
    /** How long boot waits for this connection to be ready, in ms. Default: `settings.readyTimeout`. */
    readyTimeout: ms(0).optional(),
    /** Stop boot when the connection is not ready within `readyTimeout` (default: log a warning and continue). */
    required: bool().default(false),
    /**
     * Bound, in ms, for each command the suite's request-path features (rate limit, session,
     * response cache writes, Apollo cache) send on this connection. When the connection is not
     * ready such commands fail at once instead of waiting in ioredis' offline queue, and when it
     * closes while they wait for a reply they fail at once too. The admin API uses
     * `max(requestTimeout, 2000)`. Does not change the raw `client`.
     */
    requestTimeout: ms(1).default(DEFAULT_REQUEST_TIMEOUT_MS),
  },
  { expected: "an object { connection: ... }, e.g. { connection: 'redis://127.0.0.1:6379' }" },
);

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const connectionsSchema = always(
  z.record(z.string(), connectionEntrySchema, {
    error: "an object of named connections, like { default: { connection: 'redis://127.0.0.1:6379' } }",
  }),
  (value, report) => {
    if (!isPlainObject(value)) return;
    const seen = new Map<string, string>();
    for (const name of Object.keys(value)) {
      if (!NAME_RE.test(name)) report([name], name, 'a connection name made of letters, digits, "_" and "-", starting with a letter or "_"');
      const twin = seen.get(name.toLowerCase());
      if (twin !== undefined) report([name], name, `a name distinct from "${twin}" (connection names are compared case-insensitively; rename one)`);
      else seen.set(name.toLowerCase(), name);
    }
  },
);

/** Ordinal words for the "add a third/fifth connection" hint. */
const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth'];

/** The connections a name in the settings can refer to: the configured ones, or the default. */
function connectionsOf(input: Record<string, unknown>): Record<string, unknown> {
  return isPlainObject(input.connections) && Object.keys(input.connections).length ? input.connections : { default: { connection: DEFAULT_REDIS_URL } };
}

const knownNames = (conns: Record<string, unknown>): string =>
  Object.keys(conns)
    .map((n) => `"${n}"`)
    .join(', ');

/**
 * `settings.redlockConnections` must name enabled, distinct, independent connections, and an odd
 * number of them: an even number tolerates no more failed members than one fewer (2 need both, like
 * 1; 4 need 3, like 3) and lets the votes split evenly.
 */
function checkLockQuorum(input: Record<string, unknown>, report: Report): void {
  const settings = isPlainObject(input.settings) ? input.settings : {};
  const names = settings.redlockConnections;
  if (!isNameList(names)) return;
  const at = (i?: number) => (i === undefined ? ['settings', 'redlockConnections'] : ['settings', 'redlockConnections', i]);
  const conns = connectionsOf(input);
  const seenEndpoints = new Map<string, string>();
  let problems = 0;
  const add = (i: number, name: string, expected: string): void => {
    problems++;
    report(at(i), name, expected);
  };
  names.forEach((name, i) => {
    const entry = conns[name];
    if (names.indexOf(name) !== i) return add(i, name, 'each connection once (a duplicate would vote twice)');
    if (!isPlainObject(entry)) return add(i, name, `the name of a configured connection: ${knownNames(conns)}`);
    if (entry.enabled === false) return add(i, name, `an enabled connection ("${name}" has enabled: false)`);
    let endpoint = '';
    try {
      endpoint = entry.connection === undefined ? '' : serverOf(entry.connection);
    } catch {
      // an invalid connection is reported on its own path
    }
    const twin = seenEndpoints.get(endpoint);
    if (endpoint && twin !== undefined) {
      add(i, name, `independent masters: "${name}" and "${twin}" point at the same server (${endpoint}), so one server would cast two votes`);
    } else if (endpoint) seenEndpoints.set(endpoint, name);
  });
  const n = names.length;
  if (n % 2 === 0 && problems === 0) {
    const fewer = names
      .slice(0, n - 1)
      .map((x) => `'${x}'`)
      .join(', ');
    report(
      at(),
      names,
      `an odd number of lock connections (1, 3, 5, ...): ${n} connections tolerate no more failures than ${n - 1} (a majority of ${n} is ${n / 2 + 1}), ` +
        `and their votes can split ${n / 2}-${n / 2}; use [${fewer}] or add a ${ORDINALS[n] ?? `${n + 1}th`} independent master`,
    );
  }
}

/** A setting that names one connection must name a configured, enabled one. */
function checkNamedConnection(input: Record<string, unknown>, key: 'webhookSyncConnection', report: Report): void {
  const settings = isPlainObject(input.settings) ? input.settings : {};
  const name = settings[key];
  if (typeof name !== 'string' || name === '') return;
  const conns = connectionsOf(input);
  const entry = conns[name];
  if (!isPlainObject(entry)) report(['settings', key], name, `the name of a configured connection: ${knownNames(conns)}`);
  else if (entry.enabled === false) report(['settings', key], name, `an enabled connection ("${name}" has enabled: false)`);
}

/** The whole plugin config (`redis.config`); `undefined` and `null` mean "all defaults". */
export const pluginConfigSchema = z.preprocess(
  (v) => v ?? {},
  always(
    options(
      {
        settings: settingsSchema.prefault({}),
        connections: connectionsSchema.optional(),
      },
      { expected: 'an object { settings?, connections? }' },
    ),
    (value, report) => {
      if (!isPlainObject(value)) return;
      checkLockQuorum(value, report);
      checkNamedConnection(value, 'webhookSyncConnection', report);
    },
  ),
);
