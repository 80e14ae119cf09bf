/**
 * The registry of named connections: the same object backs the Strapi plugin and plain Koa apps
 * (`createRedisRegistry`).
 */
import { CounterRegistry } from './counters.js';
import { resolveConfig, type RedisPluginConfigInput, type ResolvedRedisConfig } from './config.js';
import { RedisConnection, type ConnectionStatus, type ReadyResult } from './connection.js';
import type { RedisClient } from './client.js';
import { RedisNotReadyError, UnknownConnectionError } from './errors.js';
import { consoleLogger, createSuiteLog, enableIORedisDebug, installDebugRedaction, type RedisLogger, type SuiteLog } from './logger.js';
import { registerSecretsIn } from './redact.js';
import { LockService, type LockStats } from './locks.js';

export interface RedisRegistryOptions {
  /** Where warnings and errors go. @default console */
  logger?: RedisLogger;
}

export interface RedisStatus {
  /** True when every enabled connection is ready. */
  ok: boolean;
  connections: ConnectionStatus[];
  /** Names configured with `enabled: false`. */
  disabled: string[];
}

export interface ReadyReport {
  [name: string]: ReadyResult;
}

export interface RedisRegistry {
  /** The resolved, frozen config. */
  readonly config: ResolvedRedisConfig;
  /** Enabled connections by name: `connections.<name>.client` is the ioredis client (v2 shape). */
  readonly connections: Readonly<Record<string, RedisConnection>>;
  /** A connection by name; throws `UnknownConnectionError` listing the known names. */
  get(name: string, where?: string): RedisConnection;
  /** Shorthand for `get(name).client`. */
  client(name: string, where?: string): RedisClient;
  has(name: string): boolean;
  /** Names of the enabled connections. */
  names(): string[];
  /**
   * Wait (bounded by each connection's `readyTimeout`, in parallel) until every connection is
   * ready. Logs a warning for each that is not; throws `RedisNotReadyError` for a `required` one.
   */
  waitUntilReady(): Promise<ReadyReport>;
  /** Health and server facts of every connection; never throws. */
  status(): Promise<RedisStatus>;
  /** Distributed locks on the `settings.redlockConnections` quorum (created on first use). */
  readonly locks: LockService;
  /** The lock service's counters, or null while nothing has used locks (reading it creates nothing). */
  readonly lockStats: LockStats | null;
  /** The in-process counters of the features on this registry's connections (rate limiters, session stores, caches). */
  readonly counters: CounterRegistry;
  /** QUIT every client (bounded), then disconnect: no socket or timer is left open. */
  close(): Promise<void>;
}

/**
 * Create the named connections of a config (the same `config` object as in `config/plugins.ts`).
 * Throws `RedisConfigError` for an invalid config before any connection is opened.
 */
export function createRedisRegistry(config: RedisPluginConfigInput | ResolvedRedisConfig = {}, options: RedisRegistryOptions = {}): RedisRegistry {
  const resolved = isResolved(config) ? config : resolveConfig(config);
  return new Registry(resolved, options.logger ?? consoleLogger);
}

const resolvedConfigs = new WeakSet<object>();

/** Resolve a config once and mark it, so a registry can be built from it without re-validating. */
export function resolveRegistryConfig(input: unknown): ResolvedRedisConfig {
  const resolved = resolveConfig(input);
  resolvedConfigs.add(resolved);
  return resolved;
}

function isResolved(config: unknown): config is ResolvedRedisConfig {
  return typeof config === 'object' && config !== null && resolvedConfigs.has(config);
}

class Registry implements RedisRegistry {
  readonly config: ResolvedRedisConfig;
  readonly counters = new CounterRegistry();
  readonly connections: Readonly<Record<string, RedisConnection>>;
  #log: SuiteLog;
  #closed: Promise<void> | undefined;
  #locks: LockService | undefined;
  #logger: RedisLogger;

  constructor(config: ResolvedRedisConfig, logger: RedisLogger) {
    this.config = config;
    this.#logger = logger;
    this.#log = createSuiteLog(logger, 'registry', config.settings.debug);
    registerSecretsIn(config);
    installDebugRedaction();
    if (config.settings.debugIORedis) enableIORedisDebug();
    if (config.settings.lockDelay !== null) {
      this.#log.warn('settings.lockDelay is ignored: cron ticks are keyed by their schedule, so no delay is needed. Remove it.');
    }
    const connections: Record<string, RedisConnection> = {};
    for (const conn of Object.values(config.connections)) {
      if (!conn.enabled) {
        this.#log.debug(`connection "${conn.name}" is disabled (enabled: false)`);
        continue;
      }
      connections[conn.name] = new RedisConnection(conn, createSuiteLog(logger, `connection:${conn.name}`, conn.debug), this.counters);
    }
    this.connections = Object.freeze(connections);
  }

  get lockStats(): LockStats | null {
    return this.#locks ? { ...this.#locks.stats } : null;
  }

  get locks(): LockService {
    if (!this.#locks) {
      const s = this.config.settings;
      const quorum = s.redlockConnections.map((n) => this.get(n, 'settings.redlockConnections'));
      for (const conn of quorum) conn.markUsedBy('locks');
      this.#locks = new LockService({
        connections: quorum,
        ttl: s.lockTTL,
        acquireTimeout: s.lockAcquireTimeout,
        redlock: s.redlockConfig as Record<string, number>,
        log: createSuiteLog(this.#logger, 'locks', s.debug),
      });
    }
    return this.#locks;
  }

  get(name: string, where?: string): RedisConnection {
    const conn = Object.prototype.hasOwnProperty.call(this.connections, name) ? this.connections[name] : undefined;
    if (conn) return conn;
    const cfg = Object.prototype.hasOwnProperty.call(this.config.connections, name) ? this.config.connections[name] : undefined;
    throw new UnknownConnectionError(name, this.names(), cfg !== undefined && !cfg.enabled, where);
  }

  client(name: string, where?: string): RedisClient {
    return this.get(name, where).client;
  }

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.connections, name);
  }

  names(): string[] {
    return Object.keys(this.connections);
  }

  async waitUntilReady(): Promise<ReadyReport> {
    const report: ReadyReport = {};
    const started = Date.now();
    await Promise.all(
      Object.values(this.connections).map(async (conn) => {
        const result = await conn.waitUntilReady();
        report[conn.name] = result;
        if (result === 'ready') {
          this.#log.debug(`connection "${conn.name}" ready after ${Date.now() - started} ms`);
          return;
        }
        if (result === 'lazy') return;
        if (conn.config.required) {
          throw new RedisNotReadyError(conn.name, conn.config.readyTimeout, conn.state, conn.lastError);
        }
        this.#log.warn(
          `connection "${conn.name}" (${conn.config.endpoint}) was not ready after ${conn.config.readyTimeout} ms ` +
            `(state: ${conn.state}${conn.lastError ? `, last error: ${conn.lastError}` : ''}); starting without it. ` +
            `ioredis keeps reconnecting; set required: true under redis.connections.${conn.name} to stop boot instead.`,
        );
      }),
    );
    return report;
  }

  async status(): Promise<RedisStatus> {
    const connections = await Promise.all(Object.values(this.connections).map((conn) => conn.status()));
    return {
      ok: connections.every((conn) => conn.ready),
      connections,
      disabled: Object.values(this.config.connections)
        .filter((conn) => !conn.enabled)
        .map((conn) => conn.name),
    };
  }

  close(): Promise<void> {
    this.#closed ??= Promise.all(Object.values(this.connections).map((conn) => conn.close())).then(() => undefined);
    return this.#closed;
  }
}
