/**
 * Extra clients a feature needs of its own (pub/sub: a subscribed connection can send nothing
 * else): duplicates of a named connection's client, owned by the feature and closed by it. Each
 * has an `error` listener (no "Unhandled error event"). Their outages are the connection's own
 * (same server), which the connection logs once as a warning: a duplicate logs its own at debug
 * level only, and the feature says what it does about it (the webhook sync logs its reload).
 */
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './client.js';
import type { SuiteLog } from './logger.js';
import { redactText } from './redact.js';
import { withTimeout } from './time.js';

export interface OwnedClient {
  readonly client: RedisClient;
  /** QUIT (bounded), then disconnect; safe to call twice. */
  close(timeoutMs?: number): Promise<void>;
}

export interface DuplicateOptions {
  /** For logs: what the client is for, e.g. `webhook sync subscriber`. */
  purpose: string;
  /** The connection's name, for logs. */
  connection: string;
  log: SuiteLog;
  /** Options that differ from the original client's (for a Cluster: Cluster options). */
  overrides?: Partial<RedisOptions> | Partial<ClusterOptions>;
  /** Called when the client is ready again after an outage (not on its first ready). */
  onReconnect?: () => void;
}

/** A duplicate of `source` (a standalone, Sentinel or Cluster client), owned by the caller. */
export function duplicateClient(source: RedisClient, options: DuplicateOptions): OwnedClient {
  const { purpose, connection, log } = options;
  const client = (
    (source as { isCluster?: boolean }).isCluster
      ? (source as Cluster).duplicate([], (options.overrides ?? {}) as Partial<ClusterOptions>)
      : (source as Redis).duplicate((options.overrides ?? {}) as Partial<RedisOptions>)
  ) as RedisClient;
  let closing = false;
  let down = false;
  let readyOnce = false;
  client.on('error', (err: Error) => {
    if (closing) return;
    if (!down) {
      down = true;
      log.debug(`${purpose} on connection "${connection}" lost its link (${redactText(err.message)}); ioredis keeps reconnecting`);
    } else log.debug(`${purpose} on connection "${connection}": ${redactText(err.message)}`);
  });
  client.on('ready', () => {
    if (closing) return;
    const again = readyOnce;
    readyOnce = true;
    if (down) log.debug(`${purpose} on connection "${connection}" has its link again`);
    down = false;
    if (again) options.onReconnect?.();
  });
  let closed: Promise<void> | undefined;
  return {
    client,
    close(timeoutMs = 2000) {
      closed ??= (async () => {
        closing = true;
        if (client.status === 'end') return;
        const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
        try {
          if (client.status === 'ready') await withTimeout(client.quit(), timeoutMs, () => new Error('QUIT timed out'));
        } catch {
          // disconnect below
        }
        const status: string = client.status;
        // A Redis client between reconnect attempts has no socket: disconnect() clears the timer and
        // no 'end' follows. A Cluster goes through 'close' to 'end'.
        const isCluster = (client as { isCluster?: boolean }).isCluster === true;
        const waitForEnd = status !== 'end' && (isCluster || (status !== 'reconnecting' && status !== 'close'));
        if (status !== 'end') client.disconnect();
        if (waitForEnd) await withTimeout(ended, 1000, () => new Error('no end event')).catch(() => undefined);
      })();
      return closed;
    },
  };
}
