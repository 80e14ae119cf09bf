/**
 * State shared by every limiter and store in the process: counters, the outage log (one line
 * when Redis fails, one when it is back, per connection and policy), and which limiter counts in
 * which key namespace on which client (two limiters with other limits must not share keys). It lives on `globalThis` under
 * a registered symbol because the package ships a CommonJS and an ESM build: a store created in an
 * ESM config file and a middleware built by the plugin (loaded with require) must share it.
 */
import type { SuiteLog } from '../../core/logger.js';
import { redactText } from '../../core/redact.js';

/** Cheap in-process counters of every rate limiter and store in this process (since start). */
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

interface Outage {
  since: number;
  requests: number;
}

/** A limiter counting in a key namespace: what its counts mean, and where it was configured. */
export interface LimiterClaim {
  readonly intervalMs: number;
  readonly max: number;
  readonly delayAfter: number;
  /** Where it was configured, with its limits (only an error needs it, so it is worked out then). */
  describe(): string;
}

interface SharedState {
  counters: RateLimitCounters;
  /** connection object -> policy -> outage in progress */
  outages: WeakMap<object, Map<string, Outage>>;
  /** ioredis client -> key namespace (`<keyPrefix><prefixKey>:`) -> the first limiter counting there. Optional: an older copy in the process may have made the state. */
  namespaces?: WeakMap<object, Map<string, LimiterClaim>>;
}

const KEY = Symbol.for('strapi-plugin-redis-suite.rate-limit');
const g = globalThis as Record<symbol, unknown>;
const shared: SharedState = (g[KEY] as SharedState | undefined) ??
  (g[KEY] = {
    counters: { passed: 0, limited: 0, delayed: 0, storeErrors: 0, failedOpen: 0, failedClosed: 0, limitedInMemory: 0 },
    outages: new WeakMap(),
  } satisfies SharedState) as SharedState;

export const counters: RateLimitCounters = shared.counters;
const namespaces = (shared.namespaces ??= new WeakMap());

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

/** A snapshot of the process-wide rate-limit counters. */
export function rateLimitCounters(): RateLimitCounters {
  return { ...shared.counters };
}

export type FailurePolicy = 'open' | 'closed' | 'memory';

const POLICY_TEXT: Record<FailurePolicy, string> = {
  open: 'failing open: requests pass unchecked (failOpen: true)',
  closed: 'failing closed: requests are refused with 503 (failOpen: false)',
  memory: "limiting in this process' memory: each instance allows max on its own (onError: 'memory')",
};

/** Record a failed Redis call; the first one of an outage is logged as a warning, the rest at debug level. */
export function recordFailure(conn: object, name: string, policy: FailurePolicy, error: unknown, log: SuiteLog): void {
  counters.storeErrors++;
  if (policy === 'open') counters.failedOpen++;
  else if (policy === 'closed') counters.failedClosed++;
  else counters.limitedInMemory++;
  let byPolicy = shared.outages.get(conn);
  if (!byPolicy) shared.outages.set(conn, (byPolicy = new Map()));
  const message = redactText(error instanceof Error ? error.message : String(error));
  const outage = byPolicy.get(policy);
  if (outage) {
    outage.requests++;
    log.debug(`rate limit on connection "${name}": ${message}`);
    return;
  }
  byPolicy.set(policy, { since: Date.now(), requests: 1 });
  log.warn(
    `rate limit on connection "${name}" cannot count requests in Redis: ${message} Now ${POLICY_TEXT[policy]} until Redis answers again; ` +
      `logged once per outage.`,
  );
}

/** Record a successful Redis call: ends an outage in progress (one info line). Cheap when there is none. */
export function recordSuccess(conn: object, name: string, log: SuiteLog): void {
  const byPolicy = shared.outages.get(conn);
  if (!byPolicy) return;
  shared.outages.delete(conn);
  for (const [policy, outage] of byPolicy) {
    const n = outage.requests;
    const what =
      policy === 'open' ? 'passed unchecked' : policy === 'memory' ? `${n === 1 ? 'was' : 'were'} limited in memory` : `${n === 1 ? 'was' : 'were'} refused with 503`;
    log.info(
      `rate limit on connection "${name}" counts in Redis again after ${Date.now() - outage.since} ms; ` +
        `${n} request${n === 1 ? '' : 's'} ${what} meanwhile.`,
    );
  }
}
