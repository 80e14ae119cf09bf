/**
 * The shapes the admin routes answer with (docs/admin-api.md, "Routes"). The admin panel is
 * built and shipped apart from the server bundle, so it keeps its own copy of the contract
 * instead of importing server code; tests/admin/contract-types.test.ts makes the type checker
 * fail when this copy and the server's types differ.
 */

export type Feature = 'locks' | 'cron' | 'rateLimit' | 'session' | 'cache' | 'apollo';
export type Topology = 'standalone' | 'cluster' | 'sentinel';

export interface ConnectionNodeView {
  address: string;
  role?: 'master' | 'replica';
  state: string;
  pingMs: number | null;
}

export interface ConnectionView {
  name: string;
  topology: Topology;
  endpoint: string;
  state: string;
  ready: boolean;
  pingMs: number | null;
  features: Feature[];
  nodes: ConnectionNodeView[];
  lastError?: string;
  /** A command unanswered past `requestTimeout` on a link still up (a hung server). */
  unanswered?: { forMs: number; timeoutMs: number };
}

export interface ServerInfoView {
  product: string;
  version: string;
  mode: string;
  role: string;
  uptimeMs: number;
  usedMemoryBytes: number;
  usedMemoryPeakBytes: number;
  maxMemoryBytes: number;
  maxMemoryPolicy: string;
  connectedClients: number;
  opsPerSec: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  /** 0..1, null when there were no lookups. */
  hitRatio: number | null;
  evictedKeys: number;
  expiredKeys: number;
  keys: number;
  connectedReplicas?: number;
  masterAddress?: string;
}

export interface ServerNodeView {
  address: string;
  role?: 'master' | 'replica';
  info: ServerInfoView | null;
  error?: string;
}

export interface ServerView {
  connection: string;
  topology: Topology;
  nodes: ServerNodeView[];
  fetchedAt: string;
}

export interface KeyRow {
  key: string;
  type: string;
  /** -1: no expiry. */
  ttlMs: number;
  /** MEMORY USAGE, bytes. */
  size: number | null;
  /** STRLEN / HLEN / LLEN / SCARD / ZCARD / XLEN. */
  length: number | null;
}

export interface KeyPage {
  keys: KeyRow[];
  /** null: the scan is complete. */
  cursor: string | null;
}

export interface StreamEntry {
  id: string;
  fields: [string, string][];
}

export interface KeyValue extends KeyRow {
  value: unknown;
  encoding?: 'utf8' | 'base64';
  truncated: boolean;
  /** `session`: a session key, and the admin may not read session values (`value` is null). */
  withheld?: 'session';
}

/** What a delete by pattern did. */
export interface DeleteByPatternResult {
  deleted: number;
  /** False when the deadline ended it before every key was reached. */
  complete: boolean;
  elapsedMs: number;
}

/** `details` of a 409 from delete by pattern: the suite's own key families the pattern could reach. */
export interface ProtectedRefusal {
  protected: { family: string; prefix: string; named: boolean }[];
}

export interface CacheView {
  enabled: boolean;
  connection?: string;
  tags: { tag: string; entries: number }[];
}

export interface CronTaskView {
  name: string;
  bypassRedlock: boolean;
  allowOverlap: boolean;
  running: boolean;
  lastRun?: {
    tick: string;
    startedAt: string;
    durationMs?: number;
    ok?: boolean;
    error?: string;
    instance: string;
  };
  /** Where lastRun comes from: `redis` (any instance) or `local` (this instance only). */
  lastRunSource?: 'redis' | 'local';
}

export interface CronView {
  enabled: boolean;
  tasks: CronTaskView[];
  /** Set when the shared run history could not be read: the view then shows this instance's runs. */
  historyError?: string;
}

/** This instance's feature counters since it started (`null`: the feature is not in use). */
export interface StatsView {
  instance: string;
  cache: Record<
    'hits' | 'misses' | 'bypasses' | 'stores' | 'discarded' | 'coalesced' | 'stale' | 'refreshes' | 'staleIfError' | 'purges' | 'purgedKeys' | 'errors',
    number
  > | null;
  rateLimit: Record<'passed' | 'limited' | 'delayed' | 'storeErrors' | 'failedOpen' | 'failedClosed' | 'limitedInMemory', number>;
  cron: Record<
    'runs' | 'failures' | 'claimedElsewhere' | 'skippedOverlap' | 'skippedUnavailable' | 'skippedSplit' | 'lagMs' | 'maxLagMs' | 'correctedTicks',
    number
  > | null;
  sessions: Record<'loaded' | 'missing' | 'saved' | 'destroyed' | 'corrupt' | 'failures', number>;
  apollo: Record<'hits' | 'misses' | 'readErrors' | 'writes' | 'writeErrors', number> | null;
  locks: Record<'acquired' | 'busy' | 'timedOut' | 'unavailable' | 'lost', number> | null;
}

/** A node's health series: one value per point of `HealthView.t` (null: no value at that point). */
export interface HealthNodeSeries {
  address: string;
  role: 'master' | 'replica';
  cpuPercent: (number | null)[];
  opsPerSec: (number | null)[];
  usedMemoryBytes: (number | null)[];
  rssBytes: (number | null)[];
  fragmentation: (number | null)[];
  maxMemoryBytes: (number | null)[];
  connectedClients: (number | null)[];
  blockedClients: (number | null)[];
  netInBytesPerSec: (number | null)[];
  netOutBytesPerSec: (number | null)[];
  hitRatio: (number | null)[];
  evictedPerSec: (number | null)[];
  expiredPerSec: (number | null)[];
  errors: (string | null)[];
}

export interface HealthSamplerStatus {
  mode: 'shared' | 'local';
  intervalMs: number;
  instance: string;
  samples: number;
  claimedElsewhere: number;
  lastSampleAt?: string;
  lastError?: string;
}

export interface HealthView {
  connection: string;
  topology: Topology;
  enabled: boolean;
  intervalMs: number;
  windowMs: number;
  source: 'redis' | 'local';
  sharedError?: string;
  sampler: HealthSamplerStatus | null;
  t: number[];
  sampledBy: string[];
  nodes: HealthNodeSeries[];
}

export interface SlowlogEntryView {
  id: number;
  time: string;
  durationUs: number;
  command: string[];
  argumentsWithheld?: number;
  withheld?: 'keys.read' | 'session' | 'length';
  client: string;
  clientName: string;
}

export interface LatencyEventView {
  event: string;
  time: string;
  latestMs: number;
  maxMs: number;
}

export interface SlowlogNodeView {
  address: string;
  role?: 'master' | 'replica';
  entries: SlowlogEntryView[];
  slowerThanUs: number | null;
  maxLen: number | null;
  length: number | null;
  latency: { enabled: boolean; thresholdMs: number | null; events: LatencyEventView[] };
  error?: string;
}

export interface SlowlogView {
  connection: string;
  topology: Topology;
  nodes: SlowlogNodeView[];
  fetchedAt: string;
}

export interface MemoryKeyView {
  key: string;
  bytes: number;
  type: string;
  ttlMs: number;
}

export interface MemoryGroupView {
  prefix: string;
  family: string | null;
  keys: number;
  bytes: number;
}

/** One page of the memory walk. */
export interface MemoryPage {
  cursor: string | null;
  scanned: number;
  bytes: number;
  top: MemoryKeyView[];
  groups: MemoryGroupView[];
  totalKeys: number;
  stoppedBy: 'end' | 'time' | 'keys';
  elapsedMs: number;
}

/** What a TTL edit answers. */
export interface TtlEditResult {
  ttlMs: number;
  changed: boolean;
}
