/**
 * The one place where a connection's config picks its ioredis client: `nodes` -> Cluster,
 * `sentinels` -> Sentinel, otherwise standalone (URL string, `url` option or host/port/path).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { clonePlain, type ClusterConnectionInput, type ResolvedConnectionConfig, type StandaloneConnectionInput } from './config.js';

export type RedisClient = Redis | Cluster;

/**
 * Defaults the suite applies on top of ioredis' own, to every client (a Cluster's node clients
 * too); the user's options always win.
 */
export const CLIENT_DEFAULTS: Readonly<Pick<RedisOptions, 'maxLoadingRetryTime'>> = Object.freeze({
  // A client connecting while the server loads its data looks again after the server's estimate,
  // 1 s when that is 0, whenever the load ends (ioredis caps the wait at this): instances were
  // ready 1.8-3.7 s after a restarted Redis (RELIABILITY.md, finding 13).
  maxLoadingRetryTime: 100,
});

/** Defaults the suite applies on top of ioredis' own; the user's options always win. */
export const SENTINEL_DEFAULTS: Readonly<RedisOptions> = Object.freeze({
  // Without it, a client kept writing to a demoted master for ~11 s after SENTINEL FAILOVER (measured).
  failoverDetector: true,
});

export function createClient(config: ResolvedConnectionConfig): RedisClient {
  // ioredis may keep and extend the options it is given: hand it a fresh, unfrozen copy.
  const connection = clonePlain(config.connection);
  switch (config.topology) {
    case 'cluster': {
      const { nodes, options = {} } = connection as ClusterConnectionInput;
      const { redisOptions, ...clusterOptions } = options as ClusterOptions;
      return new Cluster(nodes as ConstructorParameters<typeof Cluster>[0], {
        ...clusterOptions,
        redisOptions: { ...CLIENT_DEFAULTS, ...redisOptions },
      });
    }
    case 'sentinel':
      return new Redis({ ...CLIENT_DEFAULTS, ...SENTINEL_DEFAULTS, ...(connection as RedisOptions) });
    case 'standalone': {
      if (typeof connection === 'string') return new Redis(connection, { ...CLIENT_DEFAULTS });
      const { url, ...options } = connection as StandaloneConnectionInput;
      return url ? new Redis(url, { ...CLIENT_DEFAULTS, ...options }) : new Redis({ ...CLIENT_DEFAULTS, ...options });
    }
  }
}
