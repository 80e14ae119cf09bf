/**
 * The suite's own state in Redis, which "delete by pattern" does not touch unless the admin names
 * it (a pattern starting with the family's prefix) and confirms it (`confirmProtected`), and the
 * glob analysis that decides whether a SCAN MATCH pattern could reach a family.
 *
 * The families come from the suite's constants and the live config, never from copies of them:
 * - locks: `LOCK_KEY_PREFIX` (lock keys, fencing counters `...fence:<resource>` and the cron
 *   guard's tick claims `...cron:<task>:tick:<time>` all live under it);
 * - cron history: `CRON_HISTORY_PREFIX` and the running guard's history prefix;
 * - cache generations: each response cache's generation keys, derived from its store's `genKey()`
 *   (deleting one can let an entry written before a purge survive it);
 * - sessions: the prefix of every session store created in this process, and the default `sess:`
 *   (deleting them logs everyone out; their values are credentials-equivalent, see `keyValue`);
 * - health series: the admin panel's health history (`HEALTH_KEY_PREFIX`).
 */
import { CRON_HISTORY_PREFIX } from '../core/cron-history.js';
import { LOCK_KEY_PREFIX } from '../core/locks.js';
import { cachesOf } from '../middlewares/cache/invalidation.js';
import { sessionKeyPrefixes } from '../session/store.js';
import { HEALTH_KEY_PREFIX } from './health.js';

export type ProtectedFamilyName = 'locks' | 'cron history' | 'cache generations' | 'sessions' | 'health series';

export interface ProtectedFamily {
  family: ProtectedFamilyName;
  /** Every key of the family starts with it. */
  prefix: string;
  /** What the keys are, for the refusal message. */
  what: string;
}

/** What of the cron guard the families need (a `CronGuard` fits). */
export interface HistoryHolder {
  readonly history?: { readonly prefix: string } | undefined;
}

/** The longest common start of two strings. */
function commonStart(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

/** The protected families of this Strapi (`host`: what caches are tracked on) and cron guard. */
export function protectedFamilies(host: object, guard: HistoryHolder | undefined): ProtectedFamily[] {
  const out: ProtectedFamily[] = [{ family: 'locks', prefix: LOCK_KEY_PREFIX, what: "locks, their fencing counters and the cron guard's tick claims" }];
  for (const prefix of new Set([CRON_HISTORY_PREFIX, guard?.history?.prefix ?? CRON_HISTORY_PREFIX])) {
    out.push({ family: 'cron history', prefix, what: 'the last run of each guarded cron task' });
  }
  const generations = new Set<string>();
  for (const handle of cachesOf(host)) {
    // Two tags differ only after the part every generation key shares.
    generations.add(commonStart(handle.store.genKey('a'), handle.store.genKey('b')));
  }
  for (const prefix of generations) {
    out.push({
      family: 'cache generations',
      prefix,
      what: "the response cache's purge generations (without them an entry written before a purge can outlive it)",
    });
  }
  for (const prefix of sessionKeyPrefixes()) {
    out.push({ family: 'sessions', prefix, what: 'sessions (deleting them signs everyone out)' });
  }
  out.push({ family: 'health series', prefix: HEALTH_KEY_PREFIX, what: "the admin panel's health history of every connection" });
  return out;
}

/** The families whose keys `key` belongs to. */
export function familiesOfKey(key: string, families: readonly ProtectedFamily[]): ProtectedFamily[] {
  return families.filter((f) => key.startsWith(f.prefix));
}

/** One element of a SCAN MATCH pattern. */
type Token = { kind: 'star' } | { kind: 'one' } | { kind: 'char'; c: string } | { kind: 'class'; negate: boolean; items: Array<[string, string]> };

/**
 * Redis' glob syntax (`stringmatchlen`): `*`, `?`, `[...]` with `^` negation and `a-z` ranges
 * (reversed ranges are swapped), `\x` for a literal `x`. A class that is never closed runs to the
 * end of the pattern, as in Redis.
 */
function tokenize(pattern: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (out[out.length - 1]?.kind !== 'star') out.push({ kind: 'star' });
    } else if (ch === '?') {
      out.push({ kind: 'one' });
    } else if (ch === '\\' && i + 1 < pattern.length) {
      out.push({ kind: 'char', c: pattern[++i]! });
    } else if (ch === '[') {
      let j = i + 1;
      const negate = pattern[j] === '^';
      if (negate) j++;
      const items: Array<[string, string]> = [];
      while (j < pattern.length && pattern[j] !== ']') {
        if (pattern[j] === '\\' && j + 1 < pattern.length) {
          items.push([pattern[j + 1]!, pattern[j + 1]!]);
          j += 2;
        } else if (j + 2 < pattern.length && pattern[j + 1] === '-') {
          const a = pattern[j]!;
          const b = pattern[j + 2]!;
          items.push(a <= b ? [a, b] : [b, a]);
          j += 3;
        } else {
          items.push([pattern[j]!, pattern[j]!]);
          j++;
        }
      }
      out.push({ kind: 'class', negate, items });
      i = j; // at ']' (or past the end)
    } else {
      out.push({ kind: 'char', c: ch });
    }
  }
  return out;
}

function accepts(token: Token, c: string): boolean {
  switch (token.kind) {
    case 'star':
    case 'one':
      return true;
    case 'char':
      return token.c === c;
    case 'class': {
      const inside = token.items.some(([a, b]) => c >= a && c <= b);
      return token.negate ? !inside : inside;
    }
  }
}

/**
 * Could some key that starts with `prefix` match `pattern`? Runs the pattern over the prefix as
 * a set of positions (a `*` may take any number of characters): when positions remain once the
 * whole prefix is read, the rest of the pattern can still match the rest of such a key. Erring
 * on the side of yes: the rest of the pattern is assumed satisfiable.
 */
export function couldMatchPrefix(pattern: string, prefix: string): boolean {
  const tokens = tokenize(pattern);
  const close = (states: Set<number>): Set<number> => {
    for (const s of [...states]) {
      let i = s;
      while (tokens[i]?.kind === 'star') states.add(++i);
    }
    return states;
  };
  let states = close(new Set([0]));
  for (const c of prefix) {
    const next = new Set<number>();
    for (const s of states) {
      const token = tokens[s];
      if (!token) continue; // the pattern ended before the prefix did: it matches only shorter keys
      if (token.kind === 'star') next.add(s);
      else if (accepts(token, c)) next.add(s + 1);
    }
    states = close(next);
    if (states.size === 0) return false;
  }
  // The prefix is read. A position at the very end means the pattern matches the prefix itself,
  // a key of the family too (e.g. a session prefix used as a key).
  return states.size > 0;
}

/** `text` as a SCAN MATCH pattern that matches exactly it. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** The families `pattern` could reach. */
export function familiesReachedBy(pattern: string, families: readonly ProtectedFamily[]): ProtectedFamily[] {
  return families.filter((f) => couldMatchPrefix(pattern, f.prefix));
}
