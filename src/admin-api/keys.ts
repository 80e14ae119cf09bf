/**
 * The key browser: SCAN-paged key lists with per-key facts, bounded value views, and deletion of
 * one key or of every key matching a pattern.
 *
 * - Cluster: every master is scanned in turn (sorted by address); the opaque cursor is
 *   `<master index>:<that master's SCAN cursor>`, so a full walk lists each key once. Replicas are
 *   never scanned (they hold the same keys).
 * - Every command is bounded: a connection that is not ready fails at once with
 *   `RedisUnavailableError`, a slow one with `RedisTimeoutError` (the controller answers 503).
 * - Values are never sent whole: strings up to 64 KiB, collections up to `limit` items, each item
 *   up to 4096 characters; `truncated` says when something was left out.
 * - Only single-key commands on the key's own node (multi-key commands fail across Cluster slots).
 * - Patterns are at most `MAX_PATTERN_LENGTH` characters (Redis matches a glob in time that grows
 *   with its length and number of `*`, on every key it scans).
 * - Delete by pattern never reaches the suite's own state by accident (see protected.ts), and one
 *   deadline bounds the whole deletion, however many SCAN/UNLINK batches it takes.
 * - Session values are credentials-equivalent: `keyValue` withholds them unless told the admin
 *   may read them (`plugin::redis.keys.read-sessions`).
 *
 * Longer than 350 lines: listing, value views and deletion share the node walk and bounds of one
 * key browser (the protected families are in protected.ts).
 */
import type { Cluster, Redis } from 'ioredis';
import type { RedisConnection } from '../core/connection.js';
import { RedisTimeoutError, RedisUnavailableError } from '../core/errors.js';
import { now, withTimeout } from '../core/time.js';
import { sessionKeyPrefixes } from '../session/store.js';
import { AdminApiError, badParam } from './errors.js';
import { escapeGlob, familiesReachedBy, type ProtectedFamily } from './protected.js';

export const MAX_COUNT = 1000;
export const DEFAULT_COUNT = 100;
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
/** A string value is cut after this many bytes. */
export const STRING_MAX_BYTES = 64 * 1024;
/** Each item of a collection (field, value, member, stream field) is cut after this many characters. */
export const ITEM_MAX_CHARS = 4096;
/** Longest SCAN MATCH pattern accepted, in characters. */
export const MAX_PATTERN_LENGTH = 256;
/** Bound on one whole delete by pattern (every SCAN and UNLINK batch), in ms. */
export const DELETE_PATTERN_DEADLINE_MS = 10_000;
/** SCAN calls one page may make to fill up `count` keys (a sparse pattern). */
const MAX_SCAN_CALLS = 10;
/** Keys one pattern-deletion SCAN asks for, and UNLINKs sent per pipeline. */
const DELETE_BATCH = 500;
/** HSCAN/SSCAN calls one value view may make. */
const MAX_ITEM_SCANS = 20;

export const KEY_TYPES = ['string', 'hash', 'list', 'set', 'zset', 'stream'] as const;

export interface KeyRow {
  key: string;
  type: string;
  /** -1 = no expiry. */
  ttlMs: number;
  /** MEMORY USAGE in bytes; null when the server refused it. */
  size: number | null;
  /** STRLEN / HLEN / LLEN / SCARD / ZCARD / XLEN; null for other types. */
  length: number | null;
}

export interface KeyPage {
  keys: KeyRow[];
  /** Pass it back for the next page; null when the walk is complete. */
  cursor: string | null;
}

export interface KeyValue extends KeyRow {
  value: unknown;
  encoding?: 'utf8' | 'base64';
  truncated: boolean;
  /** `session`: the key holds a session and the admin may not read session values; `value` is null. */
  withheld?: 'session';
}

/** What a delete by pattern did. */
export interface DeleteByPatternResult {
  pattern: string;
  /** Keys removed (UNLINK replies counted). */
  deleted: number;
  /** False when the deadline ended it before every master was scanned to the end: run it again to go on. */
  complete: boolean;
  /** How long it ran, ms. */
  elapsedMs: number;
}

export interface ScanQuery {
  pattern?: unknown;
  cursor?: unknown;
  count?: unknown;
  type?: unknown;
}

/** Bound on one admin command: the connection's requestTimeout, at least 2 s. */
export function adminTimeout(conn: RedisConnection): number {
  return Math.max(conn.config.requestTimeout, 2000);
}

/** A node commands can be sent to: the standalone/Sentinel client, or one Cluster master. */
interface Target {
  address: string;
  /** `timeoutMs`: a shorter bound than the admin one (a deadline running out). */
  run<T>(command: (client: Redis) => Promise<T>, timeoutMs?: number): Promise<T>;
}

/** The nodes that hold the keys: one for standalone/Sentinel, every master (by address) for Cluster. */
export function keyNodes(conn: RedisConnection): Target[] {
  const timeout = adminTimeout(conn);
  if (!conn.isCluster) {
    return [{ address: conn.config.endpoint, run: (command, ms = timeout) => conn.run((client) => command(client as Redis), ms) }];
  }
  if (!conn.isReady) throw new RedisUnavailableError(conn.name, conn.state);
  const masters = (conn.client as Cluster)
    .nodes('master')
    .map((node) => ({ node, address: `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}` }))
    .sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
  if (masters.length === 0) throw new RedisUnavailableError(conn.name, 'no master known yet');
  return masters.map(({ node, address }) => ({
    address,
    run: <T>(command: (client: Redis) => Promise<T>, ms = timeout): Promise<T> => {
      if (!conn.isReady) return Promise.reject(new RedisUnavailableError(conn.name, conn.state));
      let pending: Promise<T>;
      try {
        pending = command(node);
      } catch (err) {
        return Promise.reject(err);
      }
      return withTimeout(pending, ms, () => new RedisTimeoutError(conn.name, ms));
    },
  }));
}

function intParam(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw badParam(name, `an integer from 1 to ${max}`, value);
  return n;
}

function patternParam(value: unknown, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value === '' || value.length > MAX_PATTERN_LENGTH) {
    throw badParam('pattern', `a non-empty SCAN MATCH pattern (e.g. "cache:*") of at most ${MAX_PATTERN_LENGTH} characters`, value);
  }
  return value;
}

/** Parse the opaque cursor: [master index, node cursor]. */
function parseCursor(value: unknown, nodes: number, cluster: boolean): [number, string] {
  if (value === undefined || value === '' || value === '0') return [0, '0'];
  const text = typeof value === 'string' ? value : '';
  const m = cluster ? /^(\d+):(\d+)$/.exec(text) : /^()(\d+)$/.exec(text);
  const index = m ? Number(m[1] || 0) : -1;
  if (!m || index >= nodes) throw badParam('cursor', 'a cursor returned by the previous page (or nothing to start)', value);
  return [index, m[2]!];
}

/** One page of keys matching `pattern` (default `*`), with their type, TTL, size and length. */
export async function scanKeys(conn: RedisConnection, query: ScanQuery): Promise<KeyPage> {
  const pattern = patternParam(query.pattern, '*');
  const count = intParam('count', query.count, DEFAULT_COUNT, MAX_COUNT);
  let type: string | undefined;
  if (query.type !== undefined && query.type !== '') {
    if (typeof query.type !== 'string' || !(KEY_TYPES as readonly string[]).includes(query.type))
      throw badParam('type', `one of ${KEY_TYPES.join(', ')}`, query.type);
    type = query.type;
  }
  const nodes = keyNodes(conn);
  let [index, cursor] = parseCursor(query.cursor, nodes.length, conn.isCluster);
  const found = new Map<number, string[]>();
  let total = 0;
  let done = false;
  for (let calls = 0; calls < MAX_SCAN_CALLS && total < count; calls++) {
    const args: (string | number)[] = ['MATCH', pattern, 'COUNT', count];
    if (type) args.push('TYPE', type);
    const [next, keys] = await nodes[index]!.run((client) => client.scan(cursor, ...(args as ['MATCH', string, 'COUNT', number])));
    if (keys.length > 0) found.set(index, [...(found.get(index) ?? []), ...keys]);
    total += keys.length;
    if (next === '0') {
      index++;
      cursor = '0';
      if (index >= nodes.length) {
        done = true;
        break;
      }
    } else {
      cursor = next;
    }
  }
  const rows: KeyRow[] = [];
  for (const [i, keys] of found) rows.push(...(await describeKeys(nodes[i]!, keys)));
  const nextCursor = done ? null : conn.isCluster ? `${index}:${cursor}` : cursor;
  return { keys: rows, cursor: nextCursor };
}

type PipelineResult = [Error | null, unknown][] | null;

/** TYPE, PTTL, MEMORY USAGE, then the length command of each type: two pipelines on the node. Keys gone meanwhile are left out. */
async function describeKeys(node: Target, keys: string[]): Promise<KeyRow[]> {
  const unique = [...new Set(keys)];
  const facts = (await node.run((client) => {
    const p = client.pipeline();
    for (const k of unique) p.type(k).pttl(k).call('MEMORY', 'USAGE', k);
    return p.exec();
  })) as PipelineResult;
  const rows: KeyRow[] = [];
  unique.forEach((key, i) => {
    const [typeErr, type] = facts?.[i * 3] ?? [null, 'none'];
    const [, ttl] = facts?.[i * 3 + 1] ?? [null, -2];
    const [sizeErr, size] = facts?.[i * 3 + 2] ?? [null, null];
    if (typeErr || type === 'none' || ttl === -2) return; // gone (or moved) since SCAN
    rows.push({ key, type: String(type), ttlMs: Number(ttl), size: sizeErr || size === null ? null : Number(size), length: null });
  });
  const lengths = (await node.run((client) => {
    const p = client.pipeline();
    for (const r of rows) {
      const cmd = LENGTH_COMMAND[r.type];
      if (cmd) p.call(cmd, r.key);
      else p.echo('');
    }
    return p.exec();
  })) as PipelineResult;
  rows.forEach((r, i) => {
    const [err, n] = lengths?.[i] ?? [null, null];
    r.length = LENGTH_COMMAND[r.type] && !err && typeof n === 'number' ? n : null;
  });
  return rows;
}

const LENGTH_COMMAND: Record<string, string | undefined> = {
  string: 'STRLEN',
  hash: 'HLEN',
  list: 'LLEN',
  set: 'SCARD',
  zset: 'ZCARD',
  stream: 'XLEN',
};

function keyParam(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw badParam('key', 'a key name', value);
  return value;
}

/** Cut one item; records in `cut` whether anything was cut. */
function item(value: string, cut: { any: boolean }): string {
  if (value.length <= ITEM_MAX_CHARS) return value;
  cut.any = true;
  return value.slice(0, ITEM_MAX_CHARS);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text, or null when the bytes are not UTF-8. A cut value may end inside a character: up to 3 trailing bytes are dropped then. */
function asUtf8(bytes: Buffer, cutShort: boolean): string | null {
  for (let drop = 0; drop <= (cutShort ? 3 : 0) && drop < bytes.length + 1; drop++) {
    try {
      return utf8.decode(bytes.subarray(0, bytes.length - drop));
    } catch {
      // try one byte less (only for a value cut short)
    }
  }
  return null;
}

/** Who reads a value, and what counts as a session key. */
export interface KeyValueOptions {
  /** The admin may read session values (`plugin::redis.keys.read-sessions`). @default false */
  canReadSessions?: boolean;
  /** The protected families (their `sessions` prefixes mark session keys). @default every session store's prefix */
  protected?: readonly ProtectedFamily[];
}

/**
 * The value of one key, bounded: see the module comment. 404 when the key does not exist. A
 * session key's value is withheld (`value: null`, `withheld: 'session'`; type, TTL, size and
 * length are still shown) unless `canReadSessions`.
 */
export async function keyValue(conn: RedisConnection, query: { key?: unknown; limit?: unknown }, options: KeyValueOptions = {}): Promise<KeyValue> {
  const key = keyParam(query.key);
  const limit = intParam('limit', query.limit, DEFAULT_LIMIT, MAX_LIMIT);
  const timeout = adminTimeout(conn);
  const run = <T>(command: (client: Redis) => Promise<T>) => conn.run((client) => command(client as Redis), timeout);
  const [type, ttl, size] = await run((client) =>
    Promise.all([client.type(key), client.pttl(key), (client.call('MEMORY', 'USAGE', key) as Promise<number | null>).catch(() => null)]),
  );
  if (type === 'none' || ttl === -2) throw new AdminApiError(404, `key: no key ${JSON.stringify(key)} on connection "${conn.name}".`);
  const row: KeyRow = { key, type, ttlMs: ttl, size: size === null ? null : Number(size), length: null };
  const sessionPrefixes = options.protected ? options.protected.filter((f) => f.family === 'sessions').map((f) => f.prefix) : sessionKeyPrefixes();
  if (!options.canReadSessions && sessionPrefixes.some((prefix) => key.startsWith(prefix))) {
    const length = LENGTH_COMMAND[type] ? await run((client) => client.call(LENGTH_COMMAND[type]!, key) as Promise<number>).catch(() => null) : null;
    return { ...row, length, value: null, truncated: false, withheld: 'session' };
  }
  const cut = { any: false };
  switch (type) {
    case 'string': {
      const [length, bytes] = await run((client) => Promise.all([client.strlen(key), client.getrangeBuffer(key, 0, STRING_MAX_BYTES - 1)]));
      const truncated = length > bytes.length;
      const text = asUtf8(bytes, truncated);
      return text === null
        ? { ...row, length, value: bytes.toString('base64'), encoding: 'base64', truncated }
        : { ...row, length, value: text, encoding: 'utf8', truncated };
    }
    case 'list': {
      const [length, items] = await run((client) => Promise.all([client.llen(key), client.lrange(key, 0, limit - 1)]));
      return { ...row, length, value: items.map((v) => item(v, cut)), truncated: length > items.length || cut.any };
    }
    case 'zset': {
      const [length, flat] = await run((client) => Promise.all([client.zcard(key), client.zrange(key, 0, limit - 1, 'WITHSCORES')]));
      const pairs: [string, number | string][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([item(flat[i]!, cut), score(flat[i + 1]!)]);
      return { ...row, length, value: pairs, truncated: length > pairs.length || cut.any };
    }
    case 'stream': {
      const [length, entries] = await run((client) => Promise.all([client.xlen(key), client.xrange(key, '-', '+', 'COUNT', limit)]));
      const value = entries.map(([id, fields]) => {
        const pairs: [string, string][] = [];
        for (let i = 0; i + 1 < fields.length; i += 2) pairs.push([item(fields[i]!, cut), item(fields[i + 1]!, cut)]);
        return { id, fields: pairs };
      });
      return { ...row, length, value, truncated: length > value.length || cut.any };
    }
    case 'hash':
    case 'set': {
      const isHash = type === 'hash';
      const length = await run((client) => (isHash ? client.hlen(key) : client.scard(key)));
      const flat: string[] = [];
      const per = isHash ? 2 : 1;
      let cursor = '0';
      for (let calls = 0; calls < MAX_ITEM_SCANS && flat.length < limit * per; calls++) {
        const [next, batch] = await run((client) => (isHash ? client.hscan(key, cursor, 'COUNT', limit) : client.sscan(key, cursor, 'COUNT', limit)));
        flat.push(...batch);
        cursor = next;
        if (cursor === '0') break;
      }
      const kept = flat.slice(0, limit * per);
      const value = isHash ? pairsOf(kept).map(([f, v]) => [item(f, cut), item(v, cut)]) : kept.map((m) => item(m, cut));
      // SSCAN/HSCAN may repeat an element; never claim more than the key holds.
      return { ...row, length, value, truncated: length > value.length || cut.any };
    }
    default:
      return { ...row, value: null, truncated: false };
  }
}

function pairsOf(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** A score as a number; `inf`/`-inf` (not JSON numbers) stay strings. */
function score(text: string): number | string {
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

/** UNLINK one key. */
export async function deleteKey(conn: RedisConnection, query: { key?: unknown }): Promise<{ key: string; deleted: 0 | 1 }> {
  const key = keyParam(query.key);
  const n = await conn.run((client) => client.unlink(key), adminTimeout(conn));
  return { key, deleted: n > 0 ? 1 : 0 };
}

/** What a delete by pattern is told besides the request body. */
export interface DeleteByPatternOptions {
  /** Families the pattern must not reach unless named and confirmed (see protected.ts). @default none */
  protected?: readonly ProtectedFamily[];
  /** Bound on the whole deletion, ms. @default DELETE_PATTERN_DEADLINE_MS */
  deadlineMs?: number;
}

const quote = (text: string): string => JSON.stringify(text);

/**
 * 409 when `pattern` could reach a protected family that it does not name (start with the
 * family's prefix) and `confirmProtected` (a prefix, or a list of them) does not confirm.
 */
function checkProtected(pattern: string, confirmProtected: unknown, families: readonly ProtectedFamily[]): void {
  const reached = familiesReachedBy(pattern, families);
  if (reached.length === 0) return;
  const confirmed = new Set(
    typeof confirmProtected === 'string'
      ? [confirmProtected]
      : Array.isArray(confirmProtected)
        ? confirmProtected.filter((c): c is string => typeof c === 'string')
        : [],
  );
  const named = (f: ProtectedFamily) => pattern.startsWith(escapeGlob(f.prefix));
  const refused = reached.filter((f) => !(named(f) && confirmed.has(f.prefix)));
  if (refused.length === 0) return;
  const list = refused.map((f) => `${f.family} (keys starting ${quote(f.prefix)}: ${f.what})`).join('; ');
  const allNamed = refused.every(named);
  const how = allNamed
    ? `To delete them, send confirmProtected: ${refused.length === 1 ? quote(refused[0]!.prefix) : `[${refused.map((f) => quote(f.prefix)).join(', ')}]`} with this pattern.`
    : `They are never deleted by a pattern that only might reach them. To delete one of these families, use a pattern that starts with its prefix and send that prefix as confirmProtected (e.g. pattern ${quote(`${escapeGlob(refused[0]!.prefix)}*`)} with confirmProtected: ${quote(refused[0]!.prefix)}).`;
  throw new AdminApiError(409, `pattern: ${quote(pattern)} could match the suite's own keys: ${list}. ${how}`, {
    protected: refused.map((f) => ({ family: f.family, prefix: f.prefix, named: named(f) })),
  });
}

/** A step of the deletion that the deadline ended (its command may still be applied). */
const DEADLINE = Symbol('deadline');

/**
 * Delete every key matching `pattern` (`confirm` must repeat it): SCAN + one UNLINK per key on
 * each master (never KEYS, never a multi-key command). Refused (409) when the pattern could
 * reach the suite's own keys unless named and confirmed (`confirmProtected`). One deadline
 * bounds the whole walk: when it runs out the answer says `complete: false` with the keys deleted
 * so far (a batch cut by the deadline may still be applied, uncounted); running it again goes on.
 */
export async function deleteByPattern(
  conn: RedisConnection,
  body: { pattern?: unknown; confirm?: unknown; confirmProtected?: unknown },
  options: DeleteByPatternOptions = {},
): Promise<DeleteByPatternResult> {
  const pattern = patternParam(body?.pattern);
  if (body.confirm !== pattern) throw badParam('confirm', `the pattern repeated exactly (${JSON.stringify(pattern)})`, body.confirm);
  checkProtected(pattern, body.confirmProtected, options.protected ?? []);
  const started = now();
  const deadline = started + (options.deadlineMs ?? DELETE_PATTERN_DEADLINE_MS);
  const perCommand = adminTimeout(conn);
  let deleted = 0;
  const result = (complete: boolean): DeleteByPatternResult => ({ pattern, deleted, complete, elapsedMs: Math.round(now() - started) });

  const step = async <T>(node: Target, command: (client: Redis) => Promise<T>): Promise<T | typeof DEADLINE> => {
    const left = Math.ceil(deadline - now());
    if (left <= 0) return DEADLINE;
    const bound = Math.min(perCommand, left);
    try {
      return await node.run(command, bound);
    } catch (err) {
      if (err instanceof RedisTimeoutError && bound < perCommand) return DEADLINE;
      throw err;
    }
  };

  try {
    for (const node of keyNodes(conn)) {
      let cursor = '0';
      do {
        const page = await step(node, (client) => client.scan(cursor, 'MATCH', pattern, 'COUNT', DELETE_BATCH));
        if (page === DEADLINE) return result(false);
        const [next, keys] = page;
        cursor = next;
        // SCAN's COUNT is a hint: a page may hold more keys. UNLINK them DELETE_BATCH at a time, so
        // a batch the deadline cuts (applied, uncounted) is never more than DELETE_BATCH keys.
        for (let from = 0; from < keys.length; from += DELETE_BATCH) {
          const batch = keys.slice(from, from + DELETE_BATCH);
          const replies = await step(node, (client) => {
            const pipeline = client.pipeline();
            for (const k of batch) pipeline.unlink(k);
            return pipeline.exec() as Promise<PipelineResult>;
          });
          if (replies === DEADLINE) return result(false);
          for (const [err, n] of replies ?? []) if (!err && typeof n === 'number') deleted += n;
        }
      } while (cursor !== '0');
    }
  } catch (err) {
    // Say how far it got: the keys already deleted stay deleted.
    if (deleted > 0 && err instanceof Error) err.message = `${err.message} Delete by pattern stopped after deleting ${deleted} keys.`;
    throw err;
  }
  return result(true);
}
