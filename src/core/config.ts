/**
 * The plugin configuration: the input users write in `config/plugins.ts` and the resolved, frozen
 * form the code uses. Names, types, defaults and messages come from the schema in
 * `config-schema.ts`; the types here are derived from it (`z.input` / `z.output`), except the
 * connection values, which are ioredis' own option types. Topology (which client a connection
 * asks for, where it points) is in `topology.ts`.
 */
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { connectionEntrySchema, DEFAULT_REDIS_URL, DEFAULT_REQUEST_TIMEOUT_MS, pluginConfigSchema, settingsSchema } from './config-schema.js';
import { RedisConfigError, type ConfigIssue } from './errors.js';
import { collectIssues, isPlainObject, parseOptions, type z } from './schema.js';
import { describeEndpoint, topologyOf, type Topology } from './topology.js';

export { DEFAULT_REDIS_URL, DEFAULT_REQUEST_TIMEOUT_MS, topologyOf, type Topology };

export const PLUGIN_ID = 'redis';

/** A Cluster startup node: `{ host, port }`, `'host:port'` or a `redis://` URL, or a bare port. */
export type ClusterNodeInput = { host?: string; port?: number } | string | number;

/** Standalone (or URL) connection options: any ioredis `RedisOptions`, plus an optional `url`. */
export type StandaloneConnectionInput = RedisOptions & {
  /** `redis://` or `rediss://` URL; the other options are applied on top of it. */
  url?: string;
  /** v2 spelling of a Unix socket; prefer `path`. */
  socket?: { socketPath?: string };
};

export interface ClusterConnectionInput {
  /** Startup nodes of the Redis Cluster. Its presence selects the Cluster client. */
  nodes: ClusterNodeInput[];
  /** ioredis `ClusterOptions` (put `redisOptions: { password, tls }` here for auth/TLS). */
  options?: ClusterOptions;
}

export type SentinelConnectionInput = RedisOptions & {
  /** Sentinel addresses. Their presence selects the Sentinel client. */
  sentinels: Array<{ host?: string; port?: number }>;
  /** The master group name the sentinels monitor. */
  name: string;
};

export type ConnectionInput = string | StandaloneConnectionInput | ClusterConnectionInput | SentinelConnectionInput;

/** One entry of `connections` (see `connectionEntrySchema` for each option). */
export type ConnectionEntryInput = z.input<typeof connectionEntrySchema>;

/** `settings` (see `settingsSchema` for each option, its unit and default). */
export type RedisSettingsInput = z.input<typeof settingsSchema>;

export interface RedisPluginConfigInput {
  settings?: RedisSettingsInput;
  connections?: Record<string, ConnectionEntryInput>;
}

type ParsedSettings = z.output<typeof settingsSchema>;

/** The settings with every default filled in. */
export type ResolvedSettings = {
  readonly [K in keyof ParsedSettings]: K extends 'redlockConnections'
    ? /** Resolved: never empty once connections exist. */ readonly string[]
    : K extends 'redlockConfig'
      ? Readonly<Record<string, unknown>>
      : K extends 'webhookSyncConnection'
        ? /** Resolved: the first enabled connection by default; null when none is enabled. */ string | null
        : ParsedSettings[K];
};

export interface ResolvedConnectionConfig {
  readonly name: string;
  readonly enabled: boolean;
  readonly topology: Topology;
  /** The user's connection value (a frozen copy; Buffers and functions kept by reference). */
  readonly connection: ConnectionInput;
  readonly readyTimeout: number;
  readonly required: boolean;
  readonly requestTimeout: number;
  readonly debug: boolean;
  /** A printable description of where it points, with no secrets. */
  readonly endpoint: string;
}

export interface ResolvedRedisConfig {
  readonly settings: ResolvedSettings;
  readonly connections: Readonly<Record<string, ResolvedConnectionConfig>>;
}

/** The defaults of every setting, read from the schema (`redlockConnections` and `webhookSyncConnection` are resolved from the connections). */
export const DEFAULT_SETTINGS: ResolvedSettings = freezePlain(settingsSchema.parse({}) as ResolvedSettings);

/** An object literal (not a Buffer, Map, class instance...): safe to copy and freeze. */
function isLiteralObject(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Copy plain objects and arrays (so the user's objects are never mutated); keep other objects by reference. */
export function clonePlain<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => clonePlain(v)) as T;
  if (isLiteralObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = clonePlain(v);
    return out as T;
  }
  return value;
}

function freezePlain<T>(value: T): T {
  if (Array.isArray(value)) {
    value.forEach((v) => freezePlain(v));
    return Object.freeze(value);
  }
  if (isLiteralObject(value)) {
    for (const v of Object.values(value)) freezePlain(v);
    return Object.freeze(value);
  }
  return value;
}

/**
 * Check a plugin config. Returns every problem found (empty when valid). Paths start at the plugin
 * id, e.g. `redis.connections.cache.connection.port`.
 */
export function collectConfigIssues(input: unknown): ConfigIssue[] {
  const result = collectIssues(pluginConfigSchema, input, PLUGIN_ID);
  return result.ok ? [] : result.issues;
}

function parseConfig(input: unknown): z.output<typeof pluginConfigSchema> {
  return parseOptions(pluginConfigSchema, input, { root: PLUGIN_ID, error: (issues) => new RedisConfigError(issues) });
}

/** Throw one `RedisConfigError` listing every problem, or return nothing when the config is valid. */
export function validateConfig(input: unknown): void {
  parseConfig(input);
}

/**
 * Validate and resolve a plugin config: defaults filled in, the user's objects copied (never
 * mutated), the result deeply frozen. With no `connections` at all, one `default` connection to
 * `redis://127.0.0.1:6379` is used; a default is never merged into a user's own list.
 */
export function resolveConfig(input: RedisPluginConfigInput | unknown): ResolvedRedisConfig {
  const parsed = parseConfig(input);
  const settings = clonePlain(parsed.settings) as { -readonly [K in keyof ResolvedSettings]: ResolvedSettings[K] };
  const given =
    parsed.connections && Object.keys(parsed.connections).length
      ? parsed.connections
      : { default: connectionEntrySchema.parse({ connection: DEFAULT_REDIS_URL }) };
  const connections: Record<string, ResolvedConnectionConfig> = {};
  for (const [name, entry] of Object.entries(given)) {
    let connection = clonePlain(entry.connection);
    const topology = topologyOf(connection);
    if (topology === 'standalone' && isPlainObject(connection) && (connection as StandaloneConnectionInput).socket) {
      // v2 wrote a Unix socket as { socket: { socketPath } }; ioredis calls it `path`.
      const { socket, ...rest } = connection as StandaloneConnectionInput;
      connection = { path: socket?.socketPath, ...rest } as StandaloneConnectionInput;
    }
    if (topology === 'sentinel' && isPlainObject(connection)) {
      // v2 removed host/port next to sentinels before handing the options to ioredis; so do we.
      const { host: _h, port: _p, ...rest } = connection as unknown as SentinelConnectionInput;
      connection = rest as SentinelConnectionInput;
    }
    connections[name] = {
      name,
      enabled: entry.enabled,
      topology,
      connection,
      readyTimeout: entry.readyTimeout ?? settings.readyTimeout,
      required: entry.required,
      requestTimeout: entry.requestTimeout,
      debug: entry.settings?.debug ?? settings.debug,
      endpoint: describeEndpoint(topology, connection),
    };
  }
  const firstEnabled = Object.values(connections).find((conn) => conn.enabled)?.name;
  if (settings.redlockConnections.length === 0) settings.redlockConnections = firstEnabled ? [firstEnabled] : [];
  if (settings.webhookSyncConnection === null) settings.webhookSyncConnection = firstEnabled ?? null;
  return freezePlain({ settings, connections });
}
