/**
 * Server health over time, for the admin panel's charts and dashboard.
 *
 * Sampling (`HealthSampler`, one per Strapi instance, started in the plugin's `bootstrap()`):
 * - One timer per instance (unref'd), firing just after each boundary of the sample slot
 *   `floor(now / interval)`. Each tick claims the slot with a lock that is never released and
 *   expires on its own (`lock:health:<slot>`, one attempt, no fencing), so exactly one
 *   instance samples each slot, whichever fires first. The others find it claimed and do nothing.
 * - The winner sends one INFO per node (standalone: the server; Sentinel: the master in use;
 *   Cluster: every master and replica the client is linked to; a node shared by two connections is
 *   asked once) and appends one point per connection to a capped, expiring list on the first lock
 *   connection: `redis-suite:health:<connection>` (RPUSH + LTRIM + PEXPIRE in one MULTI). A point
 *   holds each node's raw counters and gauges; rates are computed when the series is read, from
 *   consecutive points (the previous sample is the previous element), so sampling is append-only.
 * - When the lock connections do not answer, the instance samples on its own and keeps the points
 *   in memory (`source: 'local'` in the view), until they answer again.
 *
 * Cost: one lock attempt per instance per interval, and, in total across every instance, one INFO
 * per node and one MULTI per connection per interval, whatever the number of viewers.
 *
 * Longer than 350 lines: the sampler (claim, INFO per node, series) and the view (rates computed on
 * read) share the series format; splitting them would put that format in a third file.
 */
import type { Cluster, Redis } from 'ioredis';
import { Redis as RedisClient } from 'ioredis';
import { parseClusterNodes, type RedisConnection } from '../core/connection.js';
import { INSTANCE_ID } from '../core/cron-history.js';
import { RedisTimeoutError } from '../core/errors.js';
import { parseInfo } from '../core/info.js';
import { LockBusyError } from '../core/locks.js';
import { createSuiteLog, type RedisLogger, type SuiteLog } from '../core/logger.js';
import { redactText } from '../core/redact.js';
import type { RedisRegistry } from '../core/registry.js';
import type { Topology } from '../core/config.js';
import { withTimeout } from '../core/time.js';

/** Bound on one command of the sampler and the view: the connection's requestTimeout, at least 2 s (as every admin command). */
const adminTimeout = (conn: RedisConnection): number => Math.max(conn.config.requestTimeout, 2000);

/** Every health series key starts with it (a protected family of delete by pattern). */
export const HEALTH_KEY_PREFIX = 'redis-suite:health:';
/** The charts' window: how far back the series go, in ms. */
export const HEALTH_WINDOW_MS = 15 * 60_000;
/** The lock resource of a sample slot (the key is `lock:health:<slot>`). */
export const healthSlotResource = (slot: number): string => `health:${slot}`;

/** One node's facts at one sample: the gauges, and the counters rates are computed from. Short names: the list holds ~90 of them per node. */
export interface NodeSample {
  /** `host:port`. */
  a: string;
  /** `m` master, `r` replica. */
  r?: 'm' | 'r';
  /** Why there is no INFO from the node (redacted). */
  e?: string;
  /** The server's clock (`server_time_usec`), ms: rates are over the server's own time. */
  st?: number;
  /** `run_id` (its first 12 characters): a restart resets every counter. */
  id?: string;
  /** `used_cpu_sys + used_cpu_user`, seconds. */
  cpu?: number;
  /** `total_commands_processed`. */
  cmd?: number;
  /** `total_net_input_bytes`, `total_net_output_bytes`. */
  ni?: number;
  no?: number;
  /** `keyspace_hits`, `keyspace_misses`, `evicted_keys`, `expired_keys`. */
  h?: number;
  m?: number;
  ev?: number;
  ex?: number;
  /** `used_memory`, `used_memory_rss`, `mem_fragmentation_ratio`, `maxmemory`. */
  mu?: number;
  rss?: number;
  fr?: number;
  mx?: number;
  /** `connected_clients`, `blocked_clients`. */
  cc?: number;
  bc?: number;
}

/** One sample of one connection. */
export interface HealthPoint {
  /** When it was taken (the sampler's clock), ms since the epoch. */
  t: number;
  /** The instance that took it (`hostname:pid`). */
  by: string;
  n: NodeSample[];
}

const num = (v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

/** The facts of one INFO reply. `fallbackTime`: the sampler's clock, for servers without `server_time_usec`. */
export function nodeSample(address: string, info: string, fallbackTime: number): NodeSample {
  const f = parseInfo(info);
  const usec = num(f.server_time_usec);
  const cpu = (num(f.used_cpu_sys) ?? 0) + (num(f.used_cpu_user) ?? 0);
  const out: NodeSample = {
    a: address,
    r: f.role === 'slave' ? 'r' : 'm',
    st: usec !== undefined ? usec / 1000 : fallbackTime,
    cpu: Math.round(cpu * 1e6) / 1e6,
  };
  if (f.run_id) out.id = f.run_id.slice(0, 12);
  const fields: Array<[keyof NodeSample, string]> = [
    ['cmd', 'total_commands_processed'],
    ['ni', 'total_net_input_bytes'],
    ['no', 'total_net_output_bytes'],
    ['h', 'keyspace_hits'],
    ['m', 'keyspace_misses'],
    ['ev', 'evicted_keys'],
    ['ex', 'expired_keys'],
    ['mu', 'used_memory'],
    ['rss', 'used_memory_rss'],
    ['fr', 'mem_fragmentation_ratio'],
    ['mx', 'maxmemory'],
    ['cc', 'connected_clients'],
    ['bc', 'blocked_clients'],
  ];
  for (const [k, name] of fields) {
    const v = num(f[name]);
    if (v !== undefined) (out as unknown as Record<string, number>)[k] = v;
  }
  return out;
}

/** A node INFO can be sent to. */
interface InfoTarget {
  address: string;
  info(timeoutMs: number): Promise<string>;
}

/** `host:port` of a standalone client (its socket path for a unix socket). */
function clientAddress(client: Redis): string {
  const config = client.options;
  return config.path ? config.path : `${config.host ?? '127.0.0.1'}:${config.port ?? 6379}`;
}

/**
 * The nodes of a connection the sampler asks: see the module comment. Empty when it is not ready.
 * Cluster: the nodes CLUSTER NODES lists (failed ones are reported, not asked); those the cluster
 * client has no link to (ioredis links the nodes CLUSTER SLOTS lists, which leaves out replicas
 * Redis does not count as available yet) through `extra`, a client per address the sampler keeps.
 */
export async function infoTargets(conn: RedisConnection, boundMs: number, extra: (cluster: Cluster, address: string) => Redis): Promise<InfoTarget[]> {
  if (!conn.isReady) return [];
  if (!conn.isCluster) {
    const client = conn.client as Redis;
    const s = client.stream;
    const address = conn.topology === 'sentinel' && s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : clientAddress(client);
    return [{ address, info: (ms) => conn.run((c) => (c as Redis).info(), ms) }];
  }
  const cluster = conn.client as Cluster;
  const described = parseClusterNodes(await conn.run((client) => (client as Cluster).cluster('NODES') as Promise<string>, boundMs));
  const linked = new Map(cluster.nodes('all').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  return described.map((n) => {
    const node = linked.get(n.address);
    const timeout = (ms: number) => () => new RedisTimeoutError(`${conn.name} (node ${n.address})`, ms);
    if (n.state === 'fail') return { address: n.address, info: () => Promise.reject(new Error('the cluster marks this node as failed')) };
    const client = node && node.status !== 'end' ? node : extra(cluster, n.address);
    return { address: n.address, info: (ms: number) => withTimeout(client.info(), ms, timeout(ms)) };
  });
}

export interface HealthSamplerStatus {
  /** `shared`: the slot claims and the series are in Redis; `local`: the lock connections did not answer, this instance samples on its own. */
  mode: 'shared' | 'local';
  intervalMs: number;
  /** This instance. */
  instance: string;
  /** Slots this instance sampled (shared or local). */
  samples: number;
  /** Slots another instance had claimed. */
  claimedElsewhere: number;
  /** When this instance last sampled, ISO time. */
  lastSampleAt?: string;
  /** The last failure (claim, INFO or write), redacted. */
  lastError?: string;
}

export interface HealthSamplerOptions {
  registry: RedisRegistry;
  /** ms between samples. */
  intervalMs: number;
  log: SuiteLog;
  /** @default INSTANCE_ID (`hostname:pid`) */
  instance?: string;
  /** How far back the series go, ms. @default HEALTH_WINDOW_MS */
  windowMs?: number;
}

export class HealthSampler {
  readonly intervalMs: number;
  readonly windowMs: number;
  /** Points kept per connection: the window, plus one to compute the oldest point's rates. */
  readonly maxPoints: number;
  readonly instance: string;
  readonly #registry: RedisRegistry;
  readonly #log: SuiteLog;
  readonly #local = new Map<string, HealthPoint[]>();
  /** Clients of Cluster nodes the cluster client has no link to, by address. */
  readonly #extra = new Map<string, Redis>();
  readonly #status: HealthSamplerStatus;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;
  #localSince: number | null = null;
  #warmed = false;

  constructor(options: HealthSamplerOptions) {
    this.intervalMs = options.intervalMs;
    this.windowMs = options.windowMs ?? HEALTH_WINDOW_MS;
    this.maxPoints = Math.ceil(this.windowMs / this.intervalMs) + 1;
    this.instance = options.instance ?? INSTANCE_ID;
    this.#registry = options.registry;
    this.#log = options.log;
    this.#status = { mode: 'shared', intervalMs: this.intervalMs, instance: this.instance, samples: 0, claimedElsewhere: 0 };
  }

  /** The connection the series live on: the first lock connection. */
  get store(): RedisConnection {
    return this.#registry.get(this.#registry.config.settings.redlockConnections[0]!, 'settings.redlockConnections');
  }

  get status(): HealthSamplerStatus {
    return { ...this.#status };
  }

  /** The key of a connection's series. */
  key(connection: string): string {
    return `${HEALTH_KEY_PREFIX}${connection}`;
  }

  /** The points this instance took on its own (while the lock connections did not answer). */
  localPoints(connection: string): HealthPoint[] {
    return [...(this.#local.get(connection) ?? [])];
  }

  /** Start the timer (idempotent). */
  start(): void {
    if (this.#stopped || this.#timer) return;
    this.#schedule();
  }

  /** Stop the timer; a sample in progress finishes (bounded) or fails at once as connections close. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const client of this.#extra.values()) client.disconnect();
    this.#extra.clear();
  }

  #extraClient(cluster: Cluster, address: string): Redis {
    let client = this.#extra.get(address);
    if (!client) {
      const i = address.lastIndexOf(':');
      client = new RedisClient({
        ...(cluster.options.redisOptions ?? {}),
        host: address.slice(0, i),
        port: Number(address.slice(i + 1)),
        lazyConnect: true,
        connectTimeout: 2000,
        maxRetriesPerRequest: 0,
        // The ready check is an INFO: this link sends the sampler's INFO only.
        enableReadyCheck: false,
      });
      client.on('error', (err: Error) => this.#log.debug(`health sampler: node ${address}: ${redactText(err.message)}`));
      this.#extra.set(address, client);
    }
    return client;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const now = Date.now();
    // Just after the next slot boundary, with a small jitter so instances do not all fire at once.
    const jitter = Math.floor(Math.random() * Math.min(this.intervalMs / 5, 500));
    const at = (Math.floor(now / this.intervalMs) + 1) * this.intervalMs + jitter;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#running) {
        const run = this.tick().catch((err: unknown) => this.#log.debug(`health sampler: ${redactText((err as Error)?.message ?? String(err))}`));
        this.#running = run.finally(() => (this.#running = undefined));
      }
      this.#schedule();
    }, at - now);
    this.#timer.unref?.();
  }

  /**
   * One tick: claim the current slot, and sample when this instance won it. Resolves with what
   * happened (the tests call it directly).
   */
  async tick(now = Date.now()): Promise<'sampled' | 'claimed-elsewhere' | 'local'> {
    const slot = Math.floor(now / this.intervalMs);
    if (!this.#warmed) {
      this.#warmed = true;
      await this.#warm();
    }
    let shared = true;
    try {
      // Held for two intervals: an instance whose clock is behind by less than an interval still finds it.
      await this.#registry.locks.acquire(healthSlotResource(slot), {
        ttl: 2 * this.intervalMs,
        wait: false,
        autoExtend: false,
        fence: false,
        acquireTimeout: Math.max(500, Math.min(this.intervalMs, 5000)),
      });
    } catch (err) {
      if (err instanceof LockBusyError) {
        this.#status.claimedElsewhere++;
        this.#shared();
        return 'claimed-elsewhere';
      }
      shared = false;
      this.#goLocal(err);
    }
    if (shared) this.#shared();
    const points = await this.sample(now);
    this.#status.samples++;
    this.#status.lastSampleAt = new Date(now).toISOString();
    if (!shared) {
      for (const [name, point] of points) {
        const list = this.#local.get(name) ?? [];
        list.push(point);
        if (list.length > this.maxPoints) list.splice(0, list.length - this.maxPoints);
        this.#local.set(name, list);
      }
      return 'local';
    }
    const store = this.store;
    const ttl = this.windowMs + 2 * this.intervalMs;
    await Promise.all(
      [...points].map(async ([name, point]) => {
        const key = this.key(name);
        try {
          await store.run(
            (client) => client.multi().rpush(key, JSON.stringify(point)).ltrim(key, -this.maxPoints, -1).pexpire(key, ttl).exec(),
            adminTimeout(store),
          );
        } catch (err) {
          this.#status.lastError = redactText(`writing the series of "${name}": ${(err as Error).message}`);
          this.#log.debug(`health sampler: ${this.#status.lastError}`);
        }
      }),
    );
    return 'sampled';
  }

  /** INFO of every node of every connection (each address once), as one point per connection. */
  async sample(now = Date.now()): Promise<Map<string, HealthPoint>> {
    const asked = new Map<string, Promise<NodeSample>>();
    const out = new Map<string, HealthPoint>();
    await Promise.all(
      this.#registry.names().map(async (name) => {
        const conn = this.#registry.get(name);
        const bound = Math.min(adminTimeout(conn), Math.max(this.intervalMs, 1000));
        let targets: InfoTarget[];
        try {
          targets = await infoTargets(conn, bound, (cluster, address) => this.#extraClient(cluster, address));
        } catch (err) {
          out.set(name, { t: now, by: this.instance, n: [{ a: conn.config.endpoint, e: redactText((err as Error)?.message ?? String(err)) }] });
          return;
        }
        const nodes = await Promise.all(
          targets.map((target) => {
            let pending = asked.get(target.address);
            if (!pending) {
              pending = target.info(bound).then(
                (text) => nodeSample(target.address, text, now),
                (err: unknown) => ({ a: target.address, e: redactText((err as Error)?.message ?? String(err)) }),
              );
              asked.set(target.address, pending);
            }
            return pending;
          }),
        );
        if (targets.length === 0) nodes.push({ a: conn.config.endpoint, e: `connection "${name}" is not ready (${conn.state})` });
        out.set(name, { t: now, by: this.instance, n: nodes });
      }),
    );
    return out;
  }

  /**
   * ioredis links Cluster replicas lazily, and a new link sends an INFO (its ready check): a PING
   * makes every link now, at the first tick, rather than at this instance's first sample.
   */
  async #warm(): Promise<void> {
    await Promise.allSettled(
      this.#registry
        .names()
        .map((name) => this.#registry.get(name))
        .filter((conn) => conn.isCluster && conn.isReady)
        .flatMap((conn) => (conn.client as Cluster).nodes('all').map((node) => withTimeout(node.ping(), 2000, () => new Error('PING timed out')))),
    );
  }

  #goLocal(err: unknown): void {
    this.#status.mode = 'local';
    this.#status.lastError = redactText(`claiming the sample slot: ${(err as Error)?.message ?? String(err)}`);
    if (this.#localSince !== null) return;
    this.#localSince = Date.now();
    this.#log.warn(
      `health sampler: the lock connections do not answer (${this.#status.lastError}); this instance samples on its own and keeps the points in memory until they answer again.`,
    );
  }

  #shared(): void {
    this.#status.mode = 'shared';
    if (this.#localSince === null) return;
    this.#log.info(`health sampler: the lock connections answer again after ${Date.now() - this.#localSince} ms; sampling is shared again`);
    this.#localSince = null;
  }
}

/** A node's series: one value per point of `t` (null: no value at that point). */
export interface HealthNodeSeries {
  address: string;
  /** The role at the last point that has one. */
  role: 'master' | 'replica';
  /** % of one core (`used_cpu_sys + used_cpu_user` over the interval). */
  cpuPercent: (number | null)[];
  opsPerSec: (number | null)[];
  usedMemoryBytes: (number | null)[];
  rssBytes: (number | null)[];
  fragmentation: (number | null)[];
  /** 0: no limit. */
  maxMemoryBytes: (number | null)[];
  connectedClients: (number | null)[];
  blockedClients: (number | null)[];
  netInBytesPerSec: (number | null)[];
  netOutBytesPerSec: (number | null)[];
  /** hits / (hits + misses) over the interval, 0..1; null when there were no lookups. */
  hitRatio: (number | null)[];
  evictedPerSec: (number | null)[];
  expiredPerSec: (number | null)[];
  /** Why the node gave no INFO at that point. */
  errors: (string | null)[];
}

export interface HealthView {
  connection: string;
  topology: Topology;
  /** False when `settings.healthSampling` is off: nothing is sampled. */
  enabled: boolean;
  intervalMs: number;
  windowMs: number;
  /** `redis`: the shared series (every instance sees them); `local`: this instance's own points (the shared series could not be read). */
  source: 'redis' | 'local';
  /** Why the shared series could not be read. */
  sharedError?: string;
  /** This instance's sampler. */
  sampler: HealthSamplerStatus | null;
  /** When each point was taken, ms since the epoch, oldest first. */
  t: number[];
  /** Which instance took each point. */
  sampledBy: string[];
  nodes: HealthNodeSeries[];
}

const SERIES_FIELDS = [
  'cpuPercent',
  'opsPerSec',
  'usedMemoryBytes',
  'rssBytes',
  'fragmentation',
  'maxMemoryBytes',
  'connectedClients',
  'blockedClients',
  'netInBytesPerSec',
  'netOutBytesPerSec',
  'hitRatio',
  'evictedPerSec',
  'expiredPerSec',
] as const;

const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** A per-second rate of a counter between two samples; null across a restart or when a counter went back. */
function rate(a: number | undefined, b: number | undefined, seconds: number): number | null {
  if (a === undefined || b === undefined || b < a) return null;
  return round((b - a) / seconds);
}

/**
 * Columns per node from points (oldest first), keeping those taken after `since`: gauges as
 * sampled, rates from the node's previous sample (a point from before `since` may serve as that).
 */
export function healthSeries(points: readonly HealthPoint[], since: number): { t: number[]; sampledBy: string[]; nodes: HealthNodeSeries[] } {
  const sorted = [...points].sort((x, y) => x.t - y.t);
  const kept = sorted.filter((p) => p.t > since);
  const nodes = new Map<string, HealthNodeSeries>();
  const previous = new Map<string, NodeSample>();
  const blank = (address: string): HealthNodeSeries => {
    const series = { address, role: 'master', errors: kept.map(() => null) } as unknown as HealthNodeSeries;
    for (const f of SERIES_FIELDS) (series as unknown as Record<string, (number | null)[]>)[f] = kept.map(() => null);
    return series;
  };
  let index = -1;
  for (const point of sorted) {
    const visible = point.t > since;
    if (visible) index++;
    for (const n of point.n) {
      const prev = previous.get(n.a);
      if (!n.e) previous.set(n.a, n);
      if (!visible) continue;
      let series = nodes.get(n.a);
      if (!series) nodes.set(n.a, (series = blank(n.a)));
      if (n.e) {
        series.errors[index] = n.e;
        continue;
      }
      series.role = n.r === 'r' ? 'replica' : 'master';
      series.usedMemoryBytes[index] = n.mu ?? null;
      series.rssBytes[index] = n.rss ?? null;
      series.fragmentation[index] = n.fr ?? null;
      series.maxMemoryBytes[index] = n.mx ?? null;
      series.connectedClients[index] = n.cc ?? null;
      series.blockedClients[index] = n.bc ?? null;
      const seconds = prev && prev.st !== undefined && n.st !== undefined ? (n.st - prev.st) / 1000 : 0;
      if (!prev || seconds <= 0 || (prev.id && n.id && prev.id !== n.id)) continue;
      series.cpuPercent[index] = prev.cpu !== undefined && n.cpu !== undefined && n.cpu >= prev.cpu ? round(((n.cpu - prev.cpu) / seconds) * 100) : null;
      series.opsPerSec[index] = rate(prev.cmd, n.cmd, seconds);
      series.netInBytesPerSec[index] = rate(prev.ni, n.ni, seconds);
      series.netOutBytesPerSec[index] = rate(prev.no, n.no, seconds);
      series.evictedPerSec[index] = rate(prev.ev, n.ev, seconds);
      series.expiredPerSec[index] = rate(prev.ex, n.ex, seconds);
      const hits = rate(prev.h, n.h, 1);
      const misses = rate(prev.m, n.m, 1);
      series.hitRatio[index] = hits !== null && misses !== null && hits + misses > 0 ? round(hits / (hits + misses), 4) : null;
    }
  }
  const list = [...nodes.values()].sort((x, y) =>
    x.role === y.role ? x.address.localeCompare(y.address, 'en', { numeric: true }) : x.role === 'master' ? -1 : 1,
  );
  return { t: kept.map((p) => p.t), sampledBy: kept.map((p) => p.by), nodes: list };
}

function parsePoints(raw: string[]): HealthPoint[] {
  const out: HealthPoint[] = [];
  for (const text of raw) {
    try {
      const p = JSON.parse(text) as HealthPoint;
      if (typeof p?.t === 'number' && Array.isArray(p.n)) out.push(p);
    } catch {
      // a point this version cannot read: left out
    }
  }
  return out;
}

/**
 * The series of one connection over the window: the shared ones (from the first lock
 * connection), or this instance's own points when they cannot be read.
 */
export async function healthView(conn: RedisConnection, sampler: HealthSampler | undefined, now = Date.now()): Promise<HealthView> {
  const base = { connection: conn.name, topology: conn.topology };
  if (!sampler) {
    return { ...base, enabled: false, intervalMs: 0, windowMs: HEALTH_WINDOW_MS, source: 'redis', sampler: null, t: [], sampledBy: [], nodes: [] };
  }
  let points: HealthPoint[];
  let source: HealthView['source'] = 'redis';
  let sharedError: string | undefined;
  try {
    const store = sampler.store;
    points = parsePoints(await store.run((client) => client.lrange(sampler.key(conn.name), 0, -1), adminTimeout(store)));
  } catch (err) {
    source = 'local';
    sharedError = redactText((err as Error).message);
    points = sampler.localPoints(conn.name);
  }
  const view: HealthView = {
    ...base,
    enabled: true,
    intervalMs: sampler.intervalMs,
    windowMs: sampler.windowMs,
    source,
    sampler: sampler.status,
    ...healthSeries(points, now - sampler.windowMs),
  };
  if (sharedError) view.sharedError = sharedError;
  return view;
}

/**
 * The sampler of a Strapi instance, started (the plugin's `bootstrap()`); undefined when
 * `settings.healthSampling` is off.
 */
export function startHealthSampler(registry: RedisRegistry, logger: RedisLogger): HealthSampler | undefined {
  const s = registry.config.settings;
  if (!s.healthSampling || registry.names().length === 0) return undefined;
  const sampler = new HealthSampler({ registry, intervalMs: s.healthInterval, log: createSuiteLog(logger, 'health', s.debug) });
  sampler.start();
  return sampler;
}
