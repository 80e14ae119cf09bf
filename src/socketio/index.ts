/**
 * Socket.IO across instances: an `@socket.io/redis-adapter` on a named connection. The adapter
 * needs two connections of its own (one publishes, one stays subscribed); they are duplicates of
 * the named connection's client, and their owner closes them: the plugin on Strapi's destroy when
 * the adapter comes from the plugin's service (or from `createSocketIoAdapter` inside Strapi),
 * the caller (`adapter.close()`) otherwise.
 *
 * - standalone and Sentinel: the classic adapter (`createAdapter`, PUBLISH/SUBSCRIBE);
 * - Cluster: the sharded adapter (`createShardedAdapter`, Redis 7 SPUBLISH/SSUBSCRIBE): each
 *   channel lives on one shard instead of every message going to every node. The subscriber is a
 *   Cluster duplicate with ioredis' `shardedSubscribers` (one subscriber per shard).
 *
 * `@socket.io/redis-adapter` is an optional peer dependency, loaded on first use.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { RedisClient } from '../core/client.js';
import { PLUGIN_ID } from '../core/config.js';
import { RedisSuiteConfigError } from '../core/errors.js';
import { createSuiteLog, consoleLogger, type RedisLogger } from '../core/logger.js';
import { custom, oneOf, optionDefaults, options as optionsOf, parseOptions, plainObject, str } from '../core/schema.js';
import { duplicateClient, type OwnedClient } from '../core/owned-client.js';
import type { BoundedConnection } from '../core/resolve.js';
import type { RedisRegistry } from '../core/registry.js';

export const SOCKET_IO_ADAPTER_PACKAGE = '@socket.io/redis-adapter';

export type SocketIoAdapterMode = 'classic' | 'sharded';

export interface SocketIoAdapterOptions {
  /** The connection name (or a connection). @default 'default' */
  connection?: string | BoundedConnection;
  /** Outside Strapi: the registry the connection is in. */
  registry?: RedisRegistry;
  /** Outside Strapi: a raw ioredis client (Redis or Cluster) to duplicate. */
  client?: RedisClient;
  /** `'auto'`: sharded on a Cluster, classic otherwise. `'sharded'` needs Redis >= 7 (or Valkey). @default 'auto' */
  mode?: 'auto' | SocketIoAdapterMode;
  /** Channel prefix (classic `key`, sharded `channelPrefix`). @default 'socket.io' */
  key?: string;
  /** More options for `createAdapter` / `createShardedAdapter` (e.g. `requestsTimeout`, `subscriptionMode`). */
  adapterOptions?: Record<string, unknown>;
  /** Where the duplicated connections log their outages. @default strapi.log inside Strapi, else console */
  logger?: RedisLogger;
}

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null;

/** The schema of `SocketIoAdapterOptions`: checked when the adapter is made. */
export const socketIoAdapterShape = {
  connection: custom<string | BoundedConnection>((v) =>
    (typeof v === 'string' && v !== '') || (isObject(v) && 'client' in (v as object)) ? null : 'a connection name (a non-empty string) or a connection',
  ).optional(),
  registry: custom<RedisRegistry>((v) =>
    isObject(v) && typeof (v as { get?: unknown }).get === 'function' ? null : 'a registry from createRedisRegistry()',
  ).optional(),
  client: custom<RedisClient>((v) =>
    isObject(v) && typeof (v as { duplicate?: unknown }).duplicate === 'function' ? null : 'an ioredis client (Redis or Cluster)',
  ).optional(),
  mode: oneOf(['auto', 'classic', 'sharded'] as const).default('auto'),
  key: str('a non-empty string: the channel prefix', true).default('socket.io'),
  adapterOptions: plainObject().optional(),
  logger: custom<RedisLogger>((v) =>
    isObject(v) && typeof (v as { warn?: unknown }).warn === 'function' ? null : 'a logger with warn/info/error/debug',
  ).optional(),
} satisfies Record<keyof SocketIoAdapterOptions, unknown>;
const socketIoAdapterSchema = optionsOf(socketIoAdapterShape);

/** Every adapter option with its default (from the schema; `undefined`: none; `connection` is 'default'). */
export const SOCKET_IO_ADAPTER_DEFAULTS = Object.freeze({
  connection: undefined,
  registry: undefined,
  client: undefined,
  adapterOptions: undefined,
  logger: undefined,
  ...optionDefaults(socketIoAdapterShape),
}) as Readonly<Record<keyof SocketIoAdapterOptions, unknown>>;

/** Check the adapter's options: a `RedisSuiteConfigError` naming each bad one. */
function checkAdapterOptions(options: SocketIoAdapterOptions): void {
  parseOptions(socketIoAdapterSchema, options, { root: 'options', error: (issues) => new RedisSuiteConfigError('options of the Socket.IO adapter', issues) });
}

/** What `io.adapter()` (or `new Server(httpServer, { adapter })`) takes, plus its connections. */
export interface SocketIoAdapter {
  // `any`: socket.io's own types (Namespace => Adapter) are not imported, so that apps without the
  // optional peer still compile; this signature is assignable to socket.io's `AdapterConstructor`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (nsp: any): any;
  readonly mode: SocketIoAdapterMode;
  /** The duplicated connection that publishes. */
  readonly pubClient: RedisClient;
  /** The duplicated connection that stays subscribed. */
  readonly subClient: RedisClient;
  /** Close both connections (QUIT bounded, then disconnect). Safe to call twice. */
  close(): Promise<void>;
}

/** `@socket.io/redis-adapter` is not installed where the plugin can load it. */
export class SocketIoAdapterMissingError extends Error {
  override readonly name = 'SocketIoAdapterMissingError';
  readonly code = 'REDIS_SUITE_SOCKET_IO_ADAPTER_MISSING';
  constructor(options?: { cause?: unknown }) {
    super(
      `createSocketIoAdapter needs the package "${SOCKET_IO_ADAPTER_PACKAGE}" (an optional peer dependency of strapi-plugin-redis-suite): ` +
        `install it in your app with \`npm install ${SOCKET_IO_ADAPTER_PACKAGE}@^8.3\`.`,
      options,
    );
  }
}

interface RedisAdapterModule {
  createAdapter(pub: unknown, sub: unknown, opts?: Record<string, unknown>): (nsp: unknown) => unknown;
  createShardedAdapter(pub: unknown, sub: unknown, opts?: Record<string, unknown>): (nsp: unknown) => unknown;
}

let loaded: RedisAdapterModule | undefined;

/** Load the optional peer from this package's location (CJS) or the app's folder (ESM build). */
function loadAdapterModule(): RedisAdapterModule {
  if (loaded) return loaded;
  const bases = [typeof __filename === 'string' ? __filename : undefined, path.join(process.cwd(), 'package.json')].filter((b): b is string => !!b);
  let lastError: unknown;
  for (const base of bases) {
    try {
      const mod = createRequire(base)(SOCKET_IO_ADAPTER_PACKAGE) as Partial<RedisAdapterModule>;
      if (typeof mod.createAdapter === 'function' && typeof mod.createShardedAdapter === 'function') {
        loaded = mod as RedisAdapterModule;
        return loaded;
      }
      lastError = new Error(`${SOCKET_IO_ADAPTER_PACKAGE} has no createAdapter/createShardedAdapter (version 8.3 or later is needed)`);
    } catch (err) {
      lastError = err;
    }
  }
  throw new SocketIoAdapterMissingError({ cause: lastError });
}

interface StrapiGlobal {
  plugin?(
    name: string,
  ): { service?(name: string): { socketIoAdapter?(name: string, options?: SocketIoAdapterOptions): SocketIoAdapter } | undefined } | undefined;
  log?: RedisLogger;
}

/**
 * An `@socket.io/redis-adapter` on a named connection: `io.adapter(createSocketIoAdapter({ connection: 'default' }))`.
 * Inside Strapi (no `registry` or `client` given) it is made by the plugin's connections service,
 * which closes its connections on Strapi's destroy.
 */
export function createSocketIoAdapter(options: SocketIoAdapterOptions = {}): SocketIoAdapter {
  checkAdapterOptions(options);
  const name = typeof options.connection === 'string' ? options.connection : (options.connection?.name ?? 'default');
  if (!options.registry && !options.client && (options.connection === undefined || typeof options.connection === 'string')) {
    const strapi = (globalThis as { strapi?: StrapiGlobal }).strapi;
    const service = strapi?.plugin?.(PLUGIN_ID)?.service?.('connections');
    if (!service?.socketIoAdapter) {
      throw new Error(
        `createSocketIoAdapter: no Redis to use for connection "${name}": ${strapi ? `the "${PLUGIN_ID}" plugin is not registered yet` : 'this is not a Strapi process (no global strapi)'}. ` +
          `Outside Strapi pass { registry: createRedisRegistry(...), connection: '${name}' } or { client: <ioredis client> }.`,
      );
    }
    return service.socketIoAdapter(name, options);
  }
  const client =
    options.client ??
    (typeof options.connection === 'object' ? options.connection.client : options.registry!.get(name, 'createSocketIoAdapter({ connection })').client);
  return buildSocketIoAdapter(client, name, options);
}

/** Build the adapter on a client (duplicated twice); used by the service and by `createSocketIoAdapter`. */
export function buildSocketIoAdapter(source: RedisClient, connectionName: string, options: SocketIoAdapterOptions = {}): SocketIoAdapter {
  checkAdapterOptions(options);
  const mod = loadAdapterModule();
  const isCluster = (source as { isCluster?: boolean }).isCluster === true;
  const requested = options.mode ?? SOCKET_IO_ADAPTER_DEFAULTS.mode;
  const mode: SocketIoAdapterMode = requested === 'classic' || requested === 'sharded' ? requested : isCluster ? 'sharded' : 'classic';
  const host = (globalThis as { strapi?: StrapiGlobal }).strapi?.log;
  const log = createSuiteLog(options.logger ?? host ?? consoleLogger, 'socket.io');
  const pub: OwnedClient = duplicateClient(source, { purpose: 'the Socket.IO adapter publisher', connection: connectionName, log });
  const sub: OwnedClient = duplicateClient(source, {
    purpose: 'the Socket.IO adapter subscriber',
    connection: connectionName,
    log,
    // SSUBSCRIBE on a Cluster goes to the shard of each channel: one subscriber per shard.
    ...(isCluster && mode === 'sharded' ? { overrides: { shardedSubscribers: true } as never } : {}),
  });
  const key = options.key ?? SOCKET_IO_ADAPTER_DEFAULTS.key;
  const inner =
    mode === 'sharded'
      ? mod.createShardedAdapter(pub.client, sub.client, { channelPrefix: key, ...options.adapterOptions })
      : mod.createAdapter(pub.client, sub.client, { key, ...options.adapterOptions });
  let closed = false;
  const adapter = function redisSuiteSocketIoAdapter(nsp: unknown): unknown {
    const instance = inner(nsp) as { close?: () => unknown };
    // Socket.IO closes its adapters on io.close(), possibly after the plugin closed the
    // connections at shutdown: their unsubscribes then fail, which must not surface as an
    // unhandled rejection.
    const close = instance.close?.bind(instance);
    if (close) instance.close = () => (closed ? Promise.resolve() : Promise.resolve(close()).catch(() => undefined));
    return instance;
  } as SocketIoAdapter;
  Object.defineProperties(adapter, {
    mode: { value: mode, enumerable: true },
    pubClient: { value: pub.client, enumerable: true },
    subClient: { value: sub.client, enumerable: true },
    close: {
      value: async () => {
        closed = true;
        await Promise.all([pub.close(), sub.close()]);
      },
    },
  });
  log.debug(`Socket.IO ${mode} adapter on connection "${connectionName}" (channel prefix "${key}")`);
  return adapter;
}
