/**
 * Cache keys: method, path, the normalised query (parameters sorted by name then value, optionally
 * only an allow-list), the host the app sees (with `keyHost`), the selected request headers, and
 * optionally the caller's id. Never a credential. Keys longer than `maxKeyLength` are replaced by
 * their SHA-256 (hex).
 *
 *   GET /items?a=1&b=2|host=shop.example|accept-language=fr|caller=u:7|schema=1a2b3c4d
 *
 * `schema` (Strapi rules naming content types): a short hash of those content types' schemas.
 */
import { createHash } from 'node:crypto';

/** The request parts a key is made of (a Koa context fits). */
export interface KeyRequest {
  method: string;
  path: string;
  querystring: string;
  /** The host the app sees (Koa `ctx.host`: `Host`, or `X-Forwarded-Host` behind a proxy with `app.proxy`), port included. */
  host: string;
  get(field: string): string;
}

/** Sorted `name=value` pairs, percent-encoded the same way whatever order or encoding the client used. */
export function normaliseQuery(querystring: string, allow: ReadonlySet<string> | null): string {
  if (!querystring) return '';
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of new URLSearchParams(querystring)) {
    if (allow && !allow.has(k)) continue;
    pairs.push([k, v]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return new URLSearchParams(pairs).toString();
}

/**
 * The caller part of a key: `u:<id>` (users-permissions user), `t:<id>` (API token), or null when
 * no identity is known. Only ids, never the token or the JWT.
 */
export function callerOf(state: unknown): string | null {
  const s = (state ?? {}) as { user?: { id?: unknown }; auth?: { strategy?: { name?: unknown }; credentials?: { id?: unknown } } };
  const userId = s.user?.id;
  if (typeof userId === 'string' || typeof userId === 'number') return `u:${userId}`;
  const tokenId = s.auth?.credentials?.id;
  if (typeof tokenId === 'string' || typeof tokenId === 'number') return `t:${tokenId}`;
  return null;
}

export function buildKey(
  req: KeyRequest,
  options: { keyHost: boolean; keyHeaders: readonly string[]; queryKeys: ReadonlySet<string> | null; maxKeyLength: number; prefixLength: number },
  caller: string | null,
  schema: string | null = null,
): string {
  let key = `${req.method} ${req.path}`;
  const query = normaliseQuery(req.querystring, options.queryKeys);
  if (query) key += `?${query}`;
  // Host names are case-insensitive.
  if (options.keyHost && req.host) key += `|host=${encodeURIComponent(req.host.toLowerCase())}`;
  for (const h of options.keyHeaders) {
    const value = req.get(h);
    if (value) key += `|${h}=${encodeURIComponent(value)}`;
  }
  if (caller !== null) key += `|caller=${caller}`;
  // Strapi: the schemas the response is built from (a deploy that changes one starts new entries)
  if (schema !== null) key += `|schema=${schema}`;
  if (options.prefixLength + key.length > options.maxKeyLength) key = `sha256:${createHash('sha256').update(key).digest('hex')}`;
  return key;
}
