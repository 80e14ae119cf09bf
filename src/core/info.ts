/** Parsing of Redis/Valkey `INFO` output into the few fields the status service reports. */

export interface ServerInfo {
  /** `redis` or `valkey` (Valkey reports `server_name:valkey`). */
  product: string;
  version: string;
  /** `standalone`, `cluster` or `sentinel`. */
  mode: string;
  /** `master` or `slave`. */
  role: string;
  uptimeMs: number;
  usedMemoryBytes: number;
  usedMemoryPeakBytes: number;
  /** 0 means no limit. */
  maxMemoryBytes: number;
  maxMemoryPolicy: string;
  connectedClients: number;
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const num = (v: string | undefined): number => {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};

export function summariseInfo(text: string): ServerInfo {
  const f = parseInfo(text);
  const product = f.server_name ?? (f.valkey_version ? 'valkey' : 'redis');
  return {
    product,
    version: (product === 'valkey' ? f.valkey_version : undefined) ?? f.redis_version ?? 'unknown',
    mode: f.redis_mode ?? f.server_mode ?? 'unknown',
    role: f.role ?? 'unknown',
    uptimeMs: num(f.uptime_in_seconds) * 1000,
    usedMemoryBytes: num(f.used_memory),
    usedMemoryPeakBytes: num(f.used_memory_peak),
    maxMemoryBytes: num(f.maxmemory),
    maxMemoryPolicy: f.maxmemory_policy ?? 'unknown',
    connectedClients: num(f.connected_clients),
  };
}

/** The admin panel's view of one server: `ServerInfo` plus traffic, keyspace and replication. */
export interface ServerStats extends ServerInfo {
  /** `instantaneous_ops_per_sec`. */
  opsPerSec: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  /** hits / (hits + misses), 0..1; null when there were no lookups. */
  hitRatio: number | null;
  evictedKeys: number;
  expiredKeys: number;
  /** Keys in database `db` (from the `# Keyspace` section; 0 when it has none). */
  keys: number;
  /** Masters: `connected_slaves`. */
  connectedReplicas?: number;
  /** Replicas: `master_host:master_port`. */
  masterAddress?: string;
}

/** Parse a full `INFO` reply into `ServerStats`; `db` picks the keyspace line (`db<n>:keys=...`). */
export function serverStats(text: string, db = 0): ServerStats {
  const f = parseInfo(text);
  const hits = num(f.keyspace_hits);
  const misses = num(f.keyspace_misses);
  const keyspace = /(?:^|,)keys=(\d+)/.exec(f[`db${db}`] ?? '');
  const out: ServerStats = {
    ...summariseInfo(text),
    opsPerSec: num(f.instantaneous_ops_per_sec),
    keyspaceHits: hits,
    keyspaceMisses: misses,
    hitRatio: hits + misses > 0 ? hits / (hits + misses) : null,
    evictedKeys: num(f.evicted_keys),
    expiredKeys: num(f.expired_keys),
    keys: keyspace ? Number(keyspace[1]) : 0,
  };
  if (f.role === 'master') out.connectedReplicas = num(f.connected_slaves);
  else if (f.master_host) out.masterAddress = `${f.master_host}:${f.master_port ?? ''}`;
  return out;
}
