/**
 * State shared by every limiter and store in the process: the outage logs (one line when Redis
 * fails, one when it is back, per connection and policy) and which limiter counts in which key
 * namespace on which client (two limiters with other limits must not share keys). It lives on
 * `globalThis` under a registered symbol because the package ships a CommonJS and an ESM build: a
 * store created in an ESM config file and a middleware built by the plugin (loaded with require)
 * must share it. Counters are not shared here: each limiter and store has its own, registered in
 * its connection's registry (src/core/counters.ts).
 */
import type { SuiteLog } from '../../core/logger.js';
import { OutageLog } from '../../core/outage.js';

/** Cheap in-process counters of a rate limiter or store (since it was created). */
export interface RateLimitCounters {
  /** Requests counted in Redis and let through (delayed ones included). */
  passed: number;
  /** Requests answered with the limit status (429), or handed to `handler`. */
  limited: number;
  /** Requests delayed by `delayAfter`/`timeWait` before going on. */
  delayed: number;
  /** Redis calls that failed (unavailable, timed out, or a script error). */
  storeErrors: number;
  /** Requests let through unchecked because Redis failed (`failOpen: true`). */
  failedOpen: number;
  /** Requests refused with 503 because Redis failed (`failOpen: false`). */
  failedClosed: number;
  /** Requests counted in the in-process fallback because Redis failed (`onError: 'memory'`). */
  limitedInMemory: number;
}

/** A fresh set of rate-limit counters, all zero. */
export const zeroRateLimitCounters = (): RateLimitCounters => ({
  passed: 0,
  limited: 0,
  delayed: 0,
  storeErrors: 0,
  failedOpen: 0,
  failedClosed: 0,
  limitedInMemory: 0,
});

/** A limiter counting in a key namespace: what its counts mean, and where it was configured. */
export interface LimiterClaim {
  readonly intervalMs: number;
  readonly max: number;
  readonly delayAfter: number;
  /** Where it was configured, with its limits (only an error needs it, so it is worked out then). */
  describe(): string;
}

interface SharedState {
  /** connection object -> policy -> its outage log. Optional: an older copy in the process may have made the state. */
  outageLogs?: WeakMap<object, Map<FailurePolicy, OutageLog>>;
  /** ioredis client -> key namespace (`<keyPrefix><prefixKey>:`) -> the first limiter counting there. Optional, likewise. */
  namespaces?: WeakMap<object, Map<string, LimiterClaim>>;
}

const KEY = Symbol.for('strapi-plugin-redis-suite.rate-limit');
const g = globalThis as Record<symbol, unknown>;
const shared = (g[KEY] ??= {}) as SharedState;
const namespaces = (shared.namespaces ??= new WeakMap());
const outageLogs = (shared.outageLogs ??= new WeakMap());

/**
 * Record that a limiter counts in `namespace` on `client`. Returns the limiter already counting
 * there when its limits differ (the caller reports both), else null: limiters with the same
 * interval, max and delayAfter share the count (one config on several routes, or built twice).
 */
export function claimNamespace(client: object, namespace: string, claim: LimiterClaim): LimiterClaim | null {
  let byNamespace = namespaces.get(client);
  if (!byNamespace) namespaces.set(client, (byNamespace = new Map()));
  const first = byNamespace.get(namespace);
  if (!first) {
    byNamespace.set(namespace, claim);
    return null;
  }
  return first.intervalMs === claim.intervalMs && first.max === claim.max && first.delayAfter === claim.delayAfter ? null : first;
}

export type FailurePolicy = 'open' | 'closed' | 'memory';

const POLICY_TEXT: Record<FailurePolicy, string> = {
  open: 'failing open: requests pass unchecked (failOpen: true)',
  closed: 'failing closed: requests are refused with 503 (failOpen: false)',
  memory: "limiting in this process' memory: each instance allows max on its own (onError: 'memory')",
};

const MEANWHILE: Record<FailurePolicy, (n: number) => string> = {
  open: () => 'passed unchecked',
  closed: (n) => `${n === 1 ? 'was' : 'were'} refused with 503`,
  memory: (n) => `${n === 1 ? 'was' : 'were'} limited in memory`,
};

function outageLog(conn: { readonly name: string }, policy: FailurePolicy, log: SuiteLog): OutageLog {
  let byPolicy = outageLogs.get(conn);
  if (!byPolicy) outageLogs.set(conn, (byPolicy = new Map()));
  let outage = byPolicy.get(policy);
  if (!outage) {
    const what = `rate limit on connection "${conn.name}"`;
    outage = new OutageLog(() => log, what, POLICY_TEXT[policy], {
      started: (message) => `${what} cannot count requests in Redis: ${message} Now ${POLICY_TEXT[policy]} until Redis answers again; logged once per outage.`,
      again: (message) => `${what}: ${message}`,
      ended: (ms, n) => `${what} counts in Redis again after ${ms} ms; ${n} request${n === 1 ? '' : 's'} ${MEANWHILE[policy](n)} meanwhile.`,
    });
    byPolicy.set(policy, outage);
  }
  return outage;
}

/** Record a failed Redis call in `counters` and in the connection's outage log (one warning per outage and policy). */
export function recordFailure(conn: { readonly name: string }, policy: FailurePolicy, error: unknown, counters: RateLimitCounters, log: SuiteLog): void {
  counters.storeErrors++;
  if (policy === 'open') counters.failedOpen++;
  else if (policy === 'closed') counters.failedClosed++;
  else counters.limitedInMemory++;
  // the outage is the connection's (one line across its limiters), the line goes to this part's log
  outageLog(conn, policy, log).failed(error, undefined, log);
}

/** Record a successful Redis call: ends the connection's outages in progress (one info line each). Cheap when there is none. */
export function recordSuccess(conn: object, log: SuiteLog): void {
  const byPolicy = outageLogs.get(conn);
  if (byPolicy) for (const outage of byPolicy.values()) outage.ok(log);
}
