/**
 * Safe edits: set or remove one key's TTL (`PEXPIRE` / `PERSIST`, single-key commands on the
 * key's own node). A key of the suite's own state (protected.ts) is edited only when
 * `confirmProtected` names its family's prefix: a lock or a session whose TTL is changed by hand
 * outlives, or loses, what it guards. The controller logs every edit with the admin's id.
 */
import type { RedisConnection } from '../core/connection.js';
import { AdminApiError, badParam } from './errors.js';
import { adminTimeout } from './keys.js';
import { familiesOfKey, type ProtectedFamily } from './protected.js';

/** The longest TTL accepted, ms (100 years). */
export const MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000;

export interface TtlEditResult {
  key: string;
  /** What was asked: a TTL in ms, or null to remove it. */
  requested: number | null;
  /** PTTL after the edit (-1: no expiry). */
  ttlMs: number;
  /** False when there was nothing to change (PERSIST on a key without TTL). */
  changed: boolean;
}

/**
 * `{ key, ttlMs, confirmProtected? }`: `ttlMs` an integer from 1 to `MAX_TTL_MS` sets it, `null`
 * (or -1) removes it. 404 when the key does not exist; 409 for a protected key not confirmed.
 */
export async function setKeyTtl(
  conn: RedisConnection,
  body: { key?: unknown; ttlMs?: unknown; confirmProtected?: unknown },
  families: readonly ProtectedFamily[] = [],
): Promise<TtlEditResult> {
  const key = body?.key;
  if (typeof key !== 'string' || key === '') throw badParam('key', 'a key name', key);
  const ttl = body.ttlMs;
  const requested = ttl === null || ttl === -1 ? null : ttl;
  if (requested !== null && (typeof requested !== 'number' || !Number.isInteger(requested) || requested < 1 || requested > MAX_TTL_MS)) {
    throw badParam('ttlMs', `an integer number of milliseconds from 1 to ${MAX_TTL_MS}, or null to remove the TTL`, ttl);
  }
  const reached = familiesOfKey(key, families);
  const confirmed = new Set(
    typeof body.confirmProtected === 'string'
      ? [body.confirmProtected]
      : Array.isArray(body.confirmProtected)
        ? body.confirmProtected.filter((c): c is string => typeof c === 'string')
        : [],
  );
  const refused = reached.filter((f) => !confirmed.has(f.prefix));
  if (refused.length > 0) {
    const list = refused.map((f) => `${f.family} (keys starting ${JSON.stringify(f.prefix)}: ${f.what})`).join('; ');
    throw new AdminApiError(
      409,
      `key: ${JSON.stringify(key)} is one of the suite's own keys: ${list}. To change its TTL anyway, send confirmProtected: ${JSON.stringify(refused[0]!.prefix)}.`,
      { protected: refused.map((f) => ({ family: f.family, prefix: f.prefix, named: true })) },
    );
  }
  const timeout = adminTimeout(conn);
  const [applied, after] = await conn.run(async (client) => {
    const done = requested === null ? await client.persist(key) : await client.pexpire(key, requested);
    return [done, await client.pttl(key)] as const;
  }, timeout);
  if (after === -2) throw new AdminApiError(404, `key: no key ${JSON.stringify(key)} on connection "${conn.name}".`);
  return { key, requested, ttlMs: after, changed: applied === 1 };
}
