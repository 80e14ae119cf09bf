/**
 * The cache's rules (`contentTypes[]` / `routes[]`): the schema of one rule, the check of content
 * type UIDs against the app's (Strapi), and their compiled form: a path matcher, the tags, the
 * windows inherited from the top-level options, the schema hash of the content types they cover.
 */
import { createHash } from 'node:crypto';
import { always, bool, custom, isPlainObject, ms, options, str, z, type Report } from '../../core/schema.js';

/** What the Strapi factory knows about content types. */
export interface ContentTypeInfo {
  kind?: string;
  info?: { pluralName?: string; singularName?: string };
  /** The schema's attributes (what a response is built from): part of the schema hash. */
  attributes?: unknown;
  /** The schema's options (draftAndPublish, ...): part of the schema hash. */
  options?: unknown;
}

/** What the options are checked against: the app's content types (Strapi only) and REST prefix. */
export interface RuleHost {
  /** Strapi content types, by UID. Without them, content type rules are refused. */
  contentTypes?: Record<string, ContentTypeInfo | undefined>;
  /** Strapi's REST prefix. @default '/api' */
  restPrefix?: string;
}

/** The tag of a content type (also what the document-service middleware purges). */
export const contentTypeTag = (uid: string): string => `ct:${uid}`;

/** An array of non-empty strings. */
export const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((item) => typeof item === 'string' && item !== '');

/** The schema of an array of non-empty strings. */
export const stringList = (expected = 'an array of non-empty strings') => custom<string[]>((v) => (isStringList(v) ? null : expected));

const PATH_EXPECTED = "a path pattern starting with '/' (e.g. '/api/articles/:id') or a RegExp";

export const ruleShape = {
  /** Strapi: a content type UID (`api::article.article`): caches `GET <rest prefix>/<pluralName>` and `.../:id` (single types: `/<singularName>`). */
  contentType: str("a content type UID like 'api::article.article'", true).optional(),
  /** A path pattern: `/api/articles`, `/api/articles/:id`, `/docs/*` (a trailing `*` matches the rest), or a RegExp on the path. */
  path: custom<string | RegExp>((v) => (v instanceof RegExp || (typeof v === 'string' && v.startsWith('/')) ? null : PATH_EXPECTED)).optional(),
  /** Time to live of entries of this rule, in ms. @default the top-level `maxAge` */
  maxAge: ms(1).optional(),
  /** Extra invalidation tags the entries join (a write purging one of them removes the entry). */
  tags: stringList().optional(),
  /** Strapi: other content types whose writes also purge this rule's entries (e.g. a populated relation). */
  relatedContentTypes: stringList().optional(),
  /** Override the top-level `byCaller` for this rule. */
  byCaller: bool('a boolean').optional(),
  /** Override the top-level `staleWhileRevalidate` for this rule (ms). */
  staleWhileRevalidate: ms(0).optional(),
  /** Override the top-level `staleIfError` for this rule (ms). */
  staleIfError: ms(0).optional(),
  /** Override the top-level `originTimeout` for this rule (ms). */
  originTimeout: ms(1).optional(),
};

const ruleSchema = options(ruleShape, { expected: 'a string, a RegExp or a rule object' });

/** One cached route: a path pattern, or (Strapi) a content type whose REST find/findOne routes are cached. */
export type CacheRuleInput = z.input<z.ZodObject<typeof ruleShape>>;
/** A rule as the schema gives it (a string or RegExp turned into its rule object). */
export type ParsedRule = z.output<z.ZodObject<typeof ruleShape>>;

/**
 * A list of rules: each a rule object, a RegExp (a path rule) or a string: a content type UID in
 * `contentTypes`, a path pattern in `routes`. Problems of a string are reported at its rule's key
 * (`routes[0].path`), as if the rule object had been written.
 */
export function ruleList<In>(fromContentTypes: boolean, expected: string): z.ZodType<ParsedRule[], In[]> {
  const item = z.preprocess(
    (v) => (typeof v === 'string' ? (fromContentTypes ? { contentType: v } : { path: v }) : v instanceof RegExp ? { path: v } : v),
    always(ruleSchema, (raw, report) => {
      if (isPlainObject(raw) && raw.contentType === undefined && raw.path === undefined) report([], raw, 'a rule with `contentType` or `path`');
    }),
  );
  return z.array(item, { error: expected }) as unknown as z.ZodType<ParsedRule[], In[]>;
}

/** What is wrong with a content type UID in this app, or null. */
function contentTypeProblem(uid: string, host: RuleHost): string | null {
  if (!host.contentTypes) return 'a path rule: content types are known only inside Strapi';
  if (host.contentTypes[uid]?.info?.pluralName) return null;
  const known = Object.keys(host.contentTypes).filter((u) => u.startsWith('api::'));
  return `a content type UID of this app (${known.join(', ') || 'none found'})`;
}

/** Report every rule's content type that this app does not have (`contentTypes[0].contentType`). */
export function checkContentTypes(raw: unknown, host: RuleHost, report: Report): void {
  if (!isPlainObject(raw)) return;
  for (const list of ['contentTypes', 'routes'] as const) {
    const items = raw[list];
    if (!Array.isArray(items)) continue;
    items.forEach((item: unknown, i) => {
      const uid = typeof item === 'string' ? (list === 'contentTypes' ? item : undefined) : isPlainObject(item) ? item.contentType : undefined;
      if (typeof uid !== 'string' || uid === '') return; // not a UID: the schema reports it
      const expected = contentTypeProblem(uid, host);
      if (expected) report([list, i, 'contentType'], uid, expected);
    });
  }
}

export interface ResolvedRule {
  /** Human-readable origin, for logs. */
  readonly label: string;
  readonly matches: (path: string) => boolean;
  readonly maxAge: number;
  readonly tags: readonly string[];
  readonly byCaller: boolean;
  /** ms after maxAge an entry is served STALE while it is refreshed; 0 = off. */
  readonly staleWhileRevalidate: number;
  /** ms after maxAge an entry may stand in for a failing handler; 0 = off. */
  readonly staleIfError: number;
  /** ms the handler may take when a stored entry can stand in for it; null = no bound. */
  readonly originTimeout: number | null;
  /** Strapi: the schema hash of the content types the rule depends on (part of its keys), or null. */
  readonly schema: string | null;
}

/** What a rule takes from the top-level options when it does not say. */
export type RuleDefaults = Pick<ResolvedRule, 'maxAge' | 'byCaller' | 'staleWhileRevalidate' | 'staleIfError' | 'originTimeout'>;

/** Compile a checked rule (its content type, if any, is one of `host`'s). */
export function compileRule(rule: ParsedRule, inherit: RuleDefaults, host: RuleHost): ResolvedRule {
  const tags = new Set(rule.tags ?? []);
  const related = rule.relatedContentTypes ?? [];
  for (const uid of related) tags.add(contentTypeTag(uid));
  const matchers: Array<(p: string) => boolean> = [];
  const labels: string[] = [];
  if (rule.contentType !== undefined && host.contentTypes) {
    const ct = host.contentTypes[rule.contentType]!;
    const plural = ct.info!.pluralName!;
    const prefix = (host.restPrefix ?? '/api').replace(/\/$/, '');
    if (ct.kind === 'singleType') {
      const singular = ct.info?.singularName ?? plural;
      matchers.push(compilePath(`${prefix}/${singular}`));
      labels.push(`${prefix}/${singular}`);
    } else {
      matchers.push(compilePath(`${prefix}/${plural}`), compilePath(`${prefix}/${plural}/:id`));
      labels.push(`${prefix}/${plural}`, `${prefix}/${plural}/:id`);
    }
    tags.add(contentTypeTag(rule.contentType));
  }
  if (rule.path !== undefined) {
    const path = rule.path;
    if (path instanceof RegExp) {
      matchers.push((p) => {
        path.lastIndex = 0;
        return path.test(p);
      });
    } else {
      matchers.push(compilePath(path));
    }
    labels.push(String(path));
    if (rule.contentType === undefined && tags.size === 0) tags.add(`route:${String(path)}`);
  }
  return Object.freeze({
    label: labels.join(' '),
    matches: (p: string) => matchers.some((m) => m(p)),
    maxAge: rule.maxAge ?? inherit.maxAge,
    tags: Object.freeze([...tags]),
    byCaller: rule.byCaller ?? inherit.byCaller,
    staleWhileRevalidate: rule.staleWhileRevalidate ?? inherit.staleWhileRevalidate,
    staleIfError: rule.staleIfError ?? inherit.staleIfError,
    originTimeout: rule.originTimeout ?? inherit.originTimeout,
    schema:
      host.contentTypes && (rule.contentType !== undefined || related.length > 0)
        ? schemaHash([...(rule.contentType ? [rule.contentType] : []), ...related], host.contentTypes)
        : null,
  });
}

/** Compile `/api/articles/:id` or `/docs/*` into a matcher (an optional trailing slash is accepted, as Koa's router does). */
export function compilePath(pattern: string): (path: string) => boolean {
  let source = '';
  const wildcard = pattern.endsWith('*');
  const body = wildcard ? pattern.slice(0, -1) : pattern;
  for (const segment of body.split('/')) {
    if (source !== '' || segment !== '') source += '/';
    if (segment.startsWith(':')) source += '[^/]+';
    else source += segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  source = source.replace(/^\/\//, '/');
  const re = wildcard ? new RegExp(`^${source}.*$`) : new RegExp(`^${source.replace(/\/$/, '')}/?$`);
  return (path) => re.test(path);
}

/** JSON with object keys sorted and functions left out, so equal schemas give equal text on every instance. */
function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return typeof value === 'function' || value === undefined ? 'null' : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => typeof (value as Record<string, unknown>)[k] !== 'function' && (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/**
 * A short hash (8 hex characters of SHA-256) of the schemas of the content types `uids` (kind,
 * attributes, options), sorted by UID: part of the entry keys of the rules depending on them, so
 * entries built from an older schema are never read after a deploy that changed it.
 */
export function schemaHash(uids: readonly string[], contentTypes: Record<string, ContentTypeInfo | undefined>): string {
  const text = [...new Set(uids)]
    .sort()
    .map((uid) => {
      const ct = contentTypes[uid];
      return `${uid}=${stableJson(ct ? { kind: ct.kind, attributes: ct.attributes, options: ct.options } : null)}`;
    })
    .join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}
