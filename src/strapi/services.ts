import type { RedisClient } from '../core/client.js';
import type { RedisConnection } from '../core/connection.js';
import type { ReadyReport, RedisRegistry, RedisStatus } from '../core/registry.js';

/** `strapi.plugin('redis').service('connections')`. */
export interface ConnectionsService {
  /** A connection by name; throws `UnknownConnectionError` listing the known names. */
  get(name: string): RedisConnection;
  /** The ioredis client of a connection. */
  client(name: string): RedisClient;
  has(name: string): boolean;
  /** Names of the enabled connections. */
  list(): string[];
  /** Per connection: state, topology, PING latency, INFO basics. Never throws. */
  status(): Promise<RedisStatus>;
  /** Wait (bounded) for every connection to be ready. */
  waitUntilReady(): Promise<ReadyReport>;
  /** The registry behind the service (the same API as `createRedisRegistry`). */
  registry(): RedisRegistry;
}

export function createConnectionsService(registry: () => RedisRegistry): ConnectionsService {
  return {
    get: (name) => registry().get(name),
    client: (name) => registry().client(name),
    has: (name) => registry().has(name),
    list: () => registry().names(),
    status: () => registry().status(),
    waitUntilReady: () => registry().waitUntilReady(),
    registry,
  };
}
