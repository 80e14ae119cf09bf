/**
 * The cache's grouped options: `coalesce`, `cdn`, `honorRequestCacheControl` (each `true` for its
 * defaults, or an object setting them one by one, `false` or left out for off) and `purgeWebhook`
 * (an object, off unless given). One schema each: types, defaults and messages.
 */
import { bool, checked, custom, isPlainObject, ms, options, select, str, z } from '../../core/schema.js';
import { isStringList } from './rules.js';

/** An integer count of `unit` >= `min` (the messages' older wording: `an integer number of bytes >= 0`). */
export const count = (min: number, unit: string) => ms(min, `an integer number of ${unit} >= ${min}`);

/**
 * An option group that is off (`false`, the default), on with its defaults (`true`), or on with
 * some set (an object, checked by `schema`). The output is the group's resolved values, or false.
 */
export function toggle<S extends z.ZodType<object>>(schema: S, expected: string) {
  return select<z.output<S> | false, boolean | z.input<S>>((v) =>
    v === false ? z.literal(false) : v === true ? z.literal(true).transform(() => schema.parse({})) : isPlainObject(v) ? schema : expected,
  ).default(false);
}

export const coalesceShape = {
  /** Fill lock TTL in ms (a filler that dies frees the key after it). */
  lockTTL: ms(1).default(10_000),
  /** Longest a waiter waits for the fill before it runs the handler itself, in ms. */
  maxWait: ms(0).default(1_000),
  /** Poll interval in ms. */
  pollInterval: ms(1).default(25),
};
export const coalesceSchema = options(coalesceShape);
export type CoalesceInput = z.input<z.ZodObject<typeof coalesceShape>>;

export const cdnShape = {
  /** Send `Cache-Control: public, max-age, s-maxage, stale-while-revalidate, stale-if-error` (seconds, from the rule). */
  cacheControl: bool().default(true),
  /** The browser's `max-age` in ms (a browser copy cannot be purged; `s-maxage` is the rule's `maxAge`). */
  browserMaxAge: ms(0).default(0),
  /** The header listing the entry's tags: `'Surrogate-Key'` (space-separated), `'Cache-Tag'` (comma-separated), another name (space-separated), or `false`. */
  tagsHeader: custom<string | false>((v) =>
    v === false || (typeof v === 'string' && /^[A-Za-z0-9-]+$/.test(v)) ? null : "a header name like 'Surrogate-Key' or 'Cache-Tag', or false",
  ).default('Surrogate-Key'),
};
export const cdnSchema = options(cdnShape);
export type CdnInput = z.input<z.ZodObject<typeof cdnShape>>;

export interface ResolvedCdn {
  readonly cacheControl: boolean;
  readonly browserMaxAge: number;
  readonly tagsHeader: string | false;
}

export const honorShape = {
  /** At most one honoured request directive per entry key per `interval` ms, across instances. */
  interval: ms(1).default(1_000),
};
export const honorSchema = options(honorShape);

/** Whether a webhook URL (placeholders filled) is an http(s) URL. */
function isHttpUrl(url: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(url.replace(/\{\{[^}]*\}\}/g, 'x')).protocol);
  } catch {
    return false;
  }
}

export const purgeWebhookShape = {
  /** URLs to call on every purge (each its own delivery). Placeholders as in `body`, URL-encoded. */
  urls: checked<string[]>((v, report) => {
    if (v !== undefined && !isStringList(v)) return report([], v, 'an array of non-empty strings');
    if (v === undefined || v.length === 0) return report([], v, "a non-empty array of http(s) URLs like 'https://cdn.example/purge'");
    v.forEach((url, i) => {
      if (!isHttpUrl(url)) report([i], url, "an http(s) URL like 'https://cdn.example/purge'");
    });
  }),
  /** The HTTP method. */
  method: custom<string>((v) => (typeof v === 'string' && /^[A-Z]+$/.test(v) ? null : "an HTTP method in capitals like 'POST'")).default('POST'),
  /** Request headers (values may hold placeholders; never logged, nor shown in errors). */
  headers: custom<Record<string, string>>((v) =>
    isPlainObject(v) && Object.values(v).every((h) => typeof h === 'string') ? null : 'an object of header names to string values',
  ).default({ 'content-type': 'application/json' }),
  /**
   * The request body. Placeholders: `{{tags}}` / `{{keys}}` (JSON arrays), `{{tags.space}}`,
   * `{{tags.comma}}`, `{{keys.space}}`, `{{keys.comma}}`.
   */
  body: str('a string template').default('{"tags":{{tags}},"keys":{{keys}}}'),
  /** Attempts after the first, for a network error, a timeout, 429 or 5xx. */
  retries: count(0, 'retries').default(3),
  /** Delay before the first retry, ms; doubled for each next one. */
  backoff: ms(0).default(500),
  /** Bound on each attempt, ms. */
  timeout: ms(1).default(5_000),
  /** Deliveries queued or running at most; more are dropped (counted, one warning per overflow). */
  maxPending: count(1, 'deliveries').default(100),
  /** Deliveries in flight at once. */
  concurrency: count(1, 'deliveries').default(4),
  /** Most keys listed per delivery (tags are always all listed). */
  maxKeys: count(0, 'keys').default(1_000),
};
export const purgeWebhookSchema = options(purgeWebhookShape, {
  expected: '{ urls: [...], method?, headers?, body?, retries?, backoff?, timeout?, maxPending?, concurrency?, maxKeys? }',
});
export type PurgeWebhookInput = z.input<z.ZodObject<typeof purgeWebhookShape>>;

export interface ResolvedPurgeWebhook {
  readonly urls: readonly string[];
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly retries: number;
  readonly backoff: number;
  readonly timeout: number;
  readonly maxPending: number;
  readonly concurrency: number;
  readonly maxKeys: number;
}
