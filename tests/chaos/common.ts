/** Records the chaos run keeps, shared by the driver, the load generator and the checks. */

/** mulberry32: a small seeded PRNG, so a seed replays the same schedule and the same load choices. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;
export const between = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

export type Topology = 'standalone' | 'sentinel' | 'cluster';

/** Faults on Redis (every instance feels them) and faults on one Strapi instance. */
export type RedisFaultKind = 'redis-kill' | 'redis-stop' | 'client-kill' | 'sentinel-failover' | 'master-kill' | 'cluster-master-kill';
export type StrapiFaultKind = 'strapi-stop' | 'strapi-kill';
export type FaultKind = RedisFaultKind | StrapiFaultKind;

export const REDIS_FAULTS: Record<Topology, RedisFaultKind[]> = {
  standalone: ['redis-kill', 'redis-stop', 'client-kill'],
  sentinel: ['sentinel-failover', 'master-kill', 'redis-stop', 'client-kill'],
  cluster: ['cluster-master-kill', 'redis-stop', 'client-kill'],
};
export const STRAPI_FAULTS: StrapiFaultKind[] = ['strapi-stop', 'strapi-kill'];

export const isRedisFault = (kind: FaultKind): kind is RedisFaultKind => !(STRAPI_FAULTS as string[]).includes(kind);

/** A planned fault: `at` ms after the load starts; `holdMs` how long it lasts (stop, down time). */
export interface PlannedFault {
  kind: FaultKind;
  at: number;
  holdMs: number;
  /** Strapi faults: the instance's name. */
  target?: string;
}

/** A fault as it happened, in epoch ms of the driver's clock (the load generator's clock too). */
export interface FaultWindow extends PlannedFault {
  start: number;
  /** When the system was whole again (Redis answering, the instance answering HTTP). */
  end: number;
  note?: string;
}

/** Redis SIGSTOP: longer than every bound of the run (requestTimeout 250 ms, the long task's lock TTL 2 s, readTimeout). */
export const REDIS_STOP_MS = 4_000;
export const STRAPI_STOP_MS = 15_000;

/**
 * Two lanes, each a seeded sequence: Redis faults and Strapi faults, so they can overlap (a Redis
 * restart while an instance is frozen). Every kind of the topology comes once, in a seeded order,
 * before any comes again; the schedule ends `tailMs` before the load does.
 */
export function planFaults(
  seed: number,
  topology: Topology,
  durationMs: number,
  instances: readonly string[],
  opts: { warmupMs: number; tailMs: number },
): PlannedFault[] {
  const r = rng(seed);
  const plan: PlannedFault[] = [];
  const shuffled = <T>(list: readonly T[]): T[] => {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
  const hold = (kind: FaultKind): number => {
    switch (kind) {
      case 'redis-kill':
      case 'master-kill':
      case 'cluster-master-kill':
        return between(r, 1000, 3000); // down time before the restart
      case 'redis-stop':
        return REDIS_STOP_MS + between(r, 0, 1000);
      case 'strapi-stop':
        return STRAPI_STOP_MS;
      default:
        return 0;
    }
  };
  const lane = (kinds: readonly FaultKind[], gap: [number, number], estimate: (k: FaultKind, h: number) => number): void => {
    let t = opts.warmupMs + between(r, 0, gap[1]);
    let bag: FaultKind[] = [];
    for (;;) {
      if (bag.length === 0) bag = shuffled(kinds);
      // The next kind in the bag that still fits before the tail (a short run gets the short faults).
      const fits = bag.findIndex((k) => t + estimate(k, k === 'strapi-stop' ? STRAPI_STOP_MS : REDIS_STOP_MS + 1000) <= durationMs - opts.tailMs);
      if (fits < 0) break;
      const kind = bag.splice(fits, 1)[0] as FaultKind;
      const holdMs = hold(kind);
      const busy = estimate(kind, holdMs);
      plan.push({ kind, at: t, holdMs, ...(isRedisFault(kind) ? {} : { target: pick(r, instances) }) });
      t += busy + between(r, gap[0], gap[1]);
    }
  };
  lane(REDIS_FAULTS[topology], [4000, 9000], (k, h) => h + (k === 'sentinel-failover' || k === 'client-kill' ? 3000 : 4000));
  // A killed instance's restart takes a Strapi boot (15-40 s on a loaded 2-core machine).
  lane(STRAPI_FAULTS, [3000, 8000], (k, h) => (k === 'strapi-kill' ? 35_000 : h + 2000));
  return plan.sort((a, b) => a.at - b.at);
}

/** One request of the load generator (JSON line). Times: epoch ms (t0 sent, t1 answered or failed). */
export interface LoadRecord {
  k: 'read' | 'list' | 'write' | 'sess' | 'rl' | 'login' | 'gql' | 'ctl';
  /** Instance name. */
  i: string;
  t0: number;
  t1: number;
  /** HTTP status; 0 = no answer (err says why). */
  st: number;
  err?: string;
  /** X-Request-Ms / X-Handler-Ms of the answer. */
  rq?: number;
  hd?: number;
  x?: string;
  /** read/write: article index and version; list: versions by article index. */
  a?: number;
  v?: number;
  vs?: Record<string, number>;
  via?: 'rest' | 'graphql';
  /** session: user, operation, what the answer said. */
  u?: string;
  op?: 'login' | 'read' | 'incr';
  ru?: string | null;
  rn?: number | null;
  /** rate limit: bucket, counted (the limiter's state was there), its count. */
  b?: string;
  counted?: boolean;
  cur?: number;
  /** admin login: the email. */
  e?: string;
  /** graphql: 'hit' (hash only answered), 'registered' (sent with the query after a miss), 'error'. */
  pq?: string;
}

export interface LoadConfig {
  urls: Record<string, string>;
  token: string;
  /** Wrong password sent on every over-the-limit login: a canary too (it must never be logged). */
  loginPassword: string;
  articles: string[];
  durationMs: number;
  seed: number;
  outFile: string;
}
