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
