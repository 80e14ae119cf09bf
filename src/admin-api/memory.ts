/**
 * Memory by key: "what is eating my memory", without KEYS and without blocking the server.
 *
 * One request measures one bounded stretch of the keyspace and says where to go on:
 * - SCAN (COUNT 250) from the opaque cursor of the previous page (Cluster: every master in turn,
 *   like the key browser), then `MEMORY USAGE <key> SAMPLES <n>` for that batch in one pipeline
 *   on the key's own node (SAMPLES bounds the work on a big collection: Redis estimates it from n
 *   elements; never 0, which walks the whole value).
 * - It stops starting batches when its time budget (`budgetMs`) or its key budget (`maxKeys`) is
 *   spent, or the walk is complete. The first batch always runs, so every page makes progress; a
 *   page therefore takes at most the budget plus one batch, each command bounded by
 *   `max(requestTimeout, 2000)` ms.
 * - The server keeps nothing between pages: the admin panel adds the pages up and stops asking to
 *   cancel (nothing keeps running on the server).
 * Each page answers its own top keys by size (with type and TTL) and its keys grouped by prefix:
 * the longest known prefix first (the suite's families, each response cache's prefix, session
 * prefixes, `rl:`), else the part of the key up to its first `:`.
 */
import type { RedisConnection } from '../core/connection.js';
import { LOCK_KEY_PREFIX } from '../core/locks.js';
import { CRON_HISTORY_PREFIX } from '../core/cron-history.js';
import { now } from '../core/time.js';
import { cachesOf } from '../middlewares/cache/invalidation.js';
import { sessionKeyPrefixes } from '../session/store.js';
import { badParam } from './errors.js';
import { HEALTH_KEY_PREFIX } from './health.js';
import { keyNodes, MAX_PATTERN_LENGTH } from './keys.js';

export const MEMORY_DEFAULT_BUDGET_MS = 1000;
export const MEMORY_MAX_BUDGET_MS = 5000;
export const MEMORY_DEFAULT_MAX_KEYS = 5000;
export const MEMORY_MAX_KEYS = 50_000;
export const MEMORY_DEFAULT_TOP = 20;
export const MEMORY_MAX_TOP = 100;
export const MEMORY_DEFAULT_SAMPLES = 5;
export const MEMORY_MAX_SAMPLES = 64;
/** Keys one SCAN asks for (a hint to Redis), measured in one pipeline. */
const BATCH = 250;
/** Groups one page answers with at most (the rest are summed into `(other)`). */
const MAX_GROUPS = 200;

export interface MemoryKeyView {
  key: string;
  bytes: number;
  type: string;
  /** -1: no expiry. */
  ttlMs: number;
}

export interface MemoryGroupView {
  /** `''`: keys without a `:`; `(other)`: groups past the first 200 of a page. */
  prefix: string;
  /** The feature the prefix belongs to (`response cache`, `sessions`, `locks`, ...), null for the app's own. */
  family: string | null;
  keys: number;
  bytes: number;
}

export interface MemoryPage {
  /** Pass it back for the next page; null when the walk is complete. */
  cursor: string | null;
  /** Keys measured in this page. */
  scanned: number;
  /** Their MEMORY USAGE, summed, bytes. */
  bytes: number;
  /** This page's biggest keys, biggest first. */
  top: MemoryKeyView[];
  /** This page's keys by prefix, biggest first. */
  groups: MemoryGroupView[];
  /** DBSIZE (summed over the masters): how many keys the walk goes over. */
  totalKeys: number;
  /** `end`: the walk is complete; `time`/`keys`: a budget ended this page. */
  stoppedBy: 'end' | 'time' | 'keys';
  elapsedMs: number;
}

export interface MemoryQuery {
  pattern?: unknown;
  cursor?: unknown;
  budgetMs?: unknown;
  maxKeys?: unknown;
  top?: unknown;
  samples?: unknown;
}

/** A known prefix and what it is. */
export interface KnownPrefix {
  prefix: string;
  family: string;
}

/** The prefixes of this Strapi (`host`: where caches are tracked), longest first. */
export function knownPrefixes(host: object): KnownPrefix[] {
  const list: KnownPrefix[] = [
    { prefix: LOCK_KEY_PREFIX, family: 'locks' },
    { prefix: CRON_HISTORY_PREFIX, family: 'cron history' },
    { prefix: HEALTH_KEY_PREFIX, family: 'health series' },
    { prefix: 'rl:', family: 'rate limit' },
    ...sessionKeyPrefixes().map((prefix) => ({ prefix, family: 'sessions' })),
    ...cachesOf(host).map((h) => ({ prefix: h.store.prefix, family: 'response cache' })),
  ];
  const seen = new Set<string>();
  return list.filter((k) => k.prefix !== '' && !seen.has(k.prefix) && seen.add(k.prefix)).sort((a, b) => b.prefix.length - a.prefix.length);
}

/** The group of a key: its longest known prefix, else up to its first `:` (inclusive), else `''`. */
export function groupOf(key: string, known: readonly KnownPrefix[]): { prefix: string; family: string | null } {
  for (const k of known) if (key.startsWith(k.prefix)) return { prefix: k.prefix, family: k.family };
  const i = key.indexOf(':');
  return { prefix: i >= 0 ? key.slice(0, i + 1) : '', family: null };
}

function intParam(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw badParam(name, `an integer from ${min} to ${max}`, value);
  return n;
}

type PipelineResult = [Error | null, unknown][] | null;

/** One page of the memory walk: see the module comment. */
export async function memoryPage(conn: RedisConnection, query: MemoryQuery, host: object): Promise<MemoryPage> {
  const pattern = query.pattern === undefined || query.pattern === '' ? '*' : query.pattern;
  if (typeof pattern !== 'string' || pattern.length > MAX_PATTERN_LENGTH) {
    throw badParam('pattern', `a SCAN MATCH pattern of at most ${MAX_PATTERN_LENGTH} characters`, query.pattern);
  }
  const budgetMs = intParam('budgetMs', query.budgetMs, MEMORY_DEFAULT_BUDGET_MS, 10, MEMORY_MAX_BUDGET_MS);
  const maxKeys = intParam('maxKeys', query.maxKeys, MEMORY_DEFAULT_MAX_KEYS, 1, MEMORY_MAX_KEYS);
  const topN = intParam('top', query.top, MEMORY_DEFAULT_TOP, 1, MEMORY_MAX_TOP);
  const samples = intParam('samples', query.samples, MEMORY_DEFAULT_SAMPLES, 1, MEMORY_MAX_SAMPLES);
  const nodes = keyNodes(conn);
  let index = 0;
  let cursor = '0';
  if (query.cursor !== undefined && query.cursor !== '' && query.cursor !== '0') {
    const m = conn.isCluster ? /^(\d+):(\d+)$/.exec(String(query.cursor)) : /^()(\d+)$/.exec(String(query.cursor));
    index = m ? Number(m[1] || 0) : -1;
    if (!m || index >= nodes.length) throw badParam('cursor', 'a cursor returned by the previous page (or nothing to start)', query.cursor);
    cursor = m[2]!;
  }

  const started = now();
  const deadline = started + budgetMs;
  const known = knownPrefixes(host);
  const measured: Array<{ key: string; bytes: number; node: number }> = [];
  const groups = new Map<string, MemoryGroupView>();
  let total = 0;
  let batches = 0;
  let stoppedBy: MemoryPage['stoppedBy'] = 'end';
  while (index < nodes.length) {
    if (batches > 0 && now() >= deadline) {
      stoppedBy = 'time';
      break;
    }
    if (measured.length >= maxKeys) {
      stoppedBy = 'keys';
      break;
    }
    const node = nodes[index]!;
    const [next, keys] = await node.run((client) => client.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH));
    if (keys.length > 0) {
      const unique = [...new Set(keys)];
      const replies = (await node.run((client) => {
        const p = client.pipeline();
        for (const k of unique) p.call('MEMORY', 'USAGE', k, 'SAMPLES', samples);
        return p.exec() as Promise<PipelineResult>;
      })) as PipelineResult;
      unique.forEach((key, i) => {
        const [err, size] = replies?.[i] ?? [null, null];
        if (err || size === null || size === undefined) return; // gone since SCAN
        const bytes = Number(size);
        measured.push({ key, bytes, node: index });
        total += bytes;
        const g = groupOf(key, known);
        const group = groups.get(g.prefix) ?? { prefix: g.prefix, family: g.family, keys: 0, bytes: 0 };
        group.keys++;
        group.bytes += bytes;
        groups.set(g.prefix, group);
      });
    }
    batches++;
    if (next === '0') {
      index++;
      cursor = '0';
    } else {
      cursor = next;
    }
  }

  const biggest = measured.sort((a, b) => b.bytes - a.bytes).slice(0, topN);
  const top = await describe(nodes, biggest);
  const totals = await Promise.all(nodes.map((n) => n.run((client) => client.dbsize())));
  let grouped = [...groups.values()].sort((a, b) => b.bytes - a.bytes);
  if (grouped.length > MAX_GROUPS) {
    const rest = grouped.slice(MAX_GROUPS - 1);
    grouped = [
      ...grouped.slice(0, MAX_GROUPS - 1),
      { prefix: '(other)', family: null, keys: rest.reduce((a, group) => a + group.keys, 0), bytes: rest.reduce((a, group) => a + group.bytes, 0) },
    ];
  }
  const done = index >= nodes.length;
  return {
    cursor: done ? null : conn.isCluster ? `${index}:${cursor}` : cursor,
    scanned: measured.length,
    bytes: total,
    top,
    groups: grouped,
    totalKeys: totals.reduce((a, b) => a + b, 0),
    stoppedBy: done ? 'end' : stoppedBy,
    elapsedMs: Math.round(now() - started),
  };
}

/** TYPE and PTTL of the biggest keys, one pipeline per node. */
async function describe(nodes: ReturnType<typeof keyNodes>, keys: Array<{ key: string; bytes: number; node: number }>): Promise<MemoryKeyView[]> {
  const out = new Map<string, MemoryKeyView>();
  const byNode = new Map<number, typeof keys>();
  for (const k of keys) byNode.set(k.node, [...(byNode.get(k.node) ?? []), k]);
  await Promise.all(
    [...byNode].map(async ([i, list]) => {
      const replies = (await nodes[i]!.run((client) => {
        const p = client.pipeline();
        for (const k of list) p.type(k.key).pttl(k.key);
        return p.exec() as Promise<PipelineResult>;
      })) as PipelineResult;
      list.forEach((k, j) => {
        const type = replies?.[j * 2]?.[1];
        const ttl = replies?.[j * 2 + 1]?.[1];
        out.set(k.key, { key: k.key, bytes: k.bytes, type: typeof type === 'string' ? type : 'none', ttlMs: typeof ttl === 'number' ? ttl : -1 });
      });
    }),
  );
  return keys.map((k) => out.get(k.key)!).filter((k) => k.type !== 'none');
}
