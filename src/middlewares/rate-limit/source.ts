/**
 * The counter a limiter or store runs on its Redis connection. The connection is found through
 * the suite's one lookup (src/core/resolve.ts): a connection name (Strapi), `{ registry,
 * connection }` or a raw `client` (plain Koa).
 *
 * Every command is bounded like `RedisConnection.run()`: it fails at once when the client is not
 * ready (nothing waits in ioredis' offline queue) and after `requestTimeout` otherwise.
 */
import { createHash } from 'node:crypto';
import { requestTimeoutOf, resolveConnection, type BoundedConnection, type ConnectionRegistry, type StrapiConnections } from '../../core/resolve.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../core/config.js';
import type { SuiteLog } from '../../core/logger.js';
import { ReplyError, type ChainableCommander } from 'ioredis';
import type { RedisClient } from '../../core/client.js';
import { execPerNode, MAX_PIPELINE_COMMANDS, TurnBatch, type Settled } from '../../core/turn.js';
import { hitScript, hitsScript, loadRateLimitScripts, unhitScript } from './scripts.js';
import { recordFailure, recordSuccess, type FailurePolicy, type RateLimitCounters } from './shared.js';

/** @deprecated since 0.2: `BoundedConnection`, the suite's one connection shape. */
export type RedisConnectionLike = BoundedConnection;
/** @deprecated since 0.2: `ConnectionRegistry`. */
export type RedisRegistryLike = ConnectionRegistry;

/** The part of a Strapi instance the limiter uses. */
export interface StrapiHost extends StrapiConnections {
  log?: { debug(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void };
}

export type { RedisSourceOptions } from './options.js';
import type { RedisSourceOptions } from './options.js';

/**
 * Resolve the connection now. `where` names the option for error messages. Throws
 * `UnknownConnectionError` (from the registry/service) or an `Error` saying what to pass.
 */
export function resolveSource(source: RedisSourceOptions, where: string, strapi?: StrapiHost): BoundedConnection {
  const options = strapi ? { feature: 'rateLimit' as const, strapi } : { feature: 'rateLimit' as const };
  return resolveConnection(source, where, source.requestTimeout === undefined ? options : { ...options, requestTimeout: source.requestTimeout });
}

/** Keys longer than this get their variable part replaced by its SHA-256 (a request field in a key cannot bloat Redis). */
export const MAX_KEY_LENGTH = 256;

/** `prefix + id`, or `prefix + 'sha256:' + hex(id)` when that would be longer than MAX_KEY_LENGTH. */
export function boundKey(prefix: string, id: string): string {
  const key = prefix + id;
  return key.length <= MAX_KEY_LENGTH ? key : `${prefix}sha256:${createHash('sha256').update(id).digest('hex')}`;
}

export interface HitResult {
  /** The counter after this hit. */
  count: number;
  /** Milliseconds until the window resets (> 0). */
  ttlMs: number;
}

/** A hit waiting for its turn's call. */
interface Waiter {
  weight: number;
  resolve(result: HitResult): void;
  reject(err: unknown): void;
}

/** One key's increment in a turn's batch: one hit, or (coalesced) every hit of the turn on that key and window. */
interface TurnCall {
  key: string;
  intervalMs: number;
  /** The sum of the waiters' weights. */
  weight: number;
  /** In arrival order: the reply's count is split back among them in that order. */
  waiters: Waiter[];
}

/**
 * The calls of one turn on one server (standalone, Sentinel) as one script call per
 * MAX_PIPELINE_COMMANDS keys (rate-limit-hits.lua), instead of a pipeline of one call per key: one
 * command for ioredis to build and one reply to parse, and less CPU in Redis. Each call keeps its
 * own count, or its own error (a key of another type fails only its hit).
 */
async function hitsOnOneServer(client: RedisClient, calls: readonly TurnCall[]): Promise<Settled<[number, number]>[]> {
  const parts: Promise<Settled<[number, number]>[]>[] = [];
  for (let from = 0; from < calls.length; from += MAX_PIPELINE_COMMANDS) {
    const part = calls.slice(from, from + MAX_PIPELINE_COMMANDS);
    const args: number[] = [];
    for (const call of part) args.push(call.weight, call.intervalMs);
    parts.push(
      hitsScript
        .run(
          client,
          part.map((call) => call.key),
          ...args,
        )
        .then((reply) =>
          part.map((_, i): Settled<[number, number]> => {
            const count = reply[2 * i];
            return typeof count === 'number' ? { ok: true, value: [count, Number(reply[2 * i + 1])] } : { ok: false, error: new ReplyError(String(count)) };
          }),
        ),
    );
  }
  return (await Promise.all(parts)).flat();
}

/**
 * A fixed-window counter on one connection. The hits of one event-loop turn reach Redis in one
 * bounded run, each key with its own reply: on one server as one many-key script call
 * (`hitsOnOneServer`), on a Cluster as one pipeline per node (src/core/turn.ts). Failures are
 * recorded in the shared outage log (one warning per outage) and rethrown for the caller's policy.
 *
 * Coalescing (the default): the hits of one turn on one key (and window length) are one increment
 * of their summed weight; the reply's count is split back in arrival order, so every hit still
 * gets its own exact count (the counter in Redis equals the sum of all weights, and no two hits of
 * a window see the same count). A key's increments of successive turns are not held back while an
 * earlier one is in flight: on the one link to the key's server they are applied in the order they
 * were sent, so each reply still says where its hits stand. Every hit waits at most the command
 * bound from the turn it arrived in.
 */
export class WindowCounter {
  readonly policy: FailurePolicy;
  readonly coalesce: boolean;
  #resolve: () => BoundedConnection;
  #conn: BoundedConnection | undefined;
  #timeoutMs: number | undefined;
  /** The bound of one call in ms (`timeoutMs`, or the connection's), settled with the connection. */
  #boundMs = DEFAULT_REQUEST_TIMEOUT_MS;
  #log: () => SuiteLog;
  /** This turn's calls by key and window (coalescing), emptied when the turn's batch is sent. */
  #open = new Map<string, TurnCall>();
  /** This turn's calls, sent together in its check phase. */
  readonly #turn = new TurnBatch<TurnCall>((calls) => this.#send(calls));
  /** The owner's counters: failures are counted here. */
  readonly #counters: RateLimitCounters;

  constructor(
    resolve: () => BoundedConnection,
    options: { policy: FailurePolicy; timeoutMs?: number; log: () => SuiteLog; coalesce?: boolean; counters: RateLimitCounters },
  ) {
    this.#resolve = resolve;
    this.#counters = options.counters;
    this.policy = options.policy;
    this.#timeoutMs = options.timeoutMs;
    this.#log = options.log;
    this.coalesce = options.coalesce ?? true;
  }

  /** The connection (resolved on first call; a resolution error is thrown as is, every time). */
  get connection(): BoundedConnection {
    if (!this.#conn) {
      const conn = this.#resolve();
      loadRateLimitScripts(conn.client);
      this.#boundMs = this.#timeoutMs ?? requestTimeoutOf(conn);
      this.#conn = conn;
      conn.counters?.register('rateLimit', () => ({ ...this.#counters }));
    }
    return this.#conn;
  }

  hit(key: string, weight: number, intervalMs: number): Promise<HitResult> {
    try {
      void this.connection;
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<HitResult>((resolve, reject) => {
      const waiter: Waiter = { weight, resolve, reject };
      if (!this.coalesce) {
        this.#turn.add({ key, intervalMs, weight, waiters: [waiter] });
        return;
      }
      const id = `${intervalMs}\u0000${key}`;
      const open = this.#open.get(id);
      if (open) {
        open.weight += weight;
        open.waiters.push(waiter);
        return;
      }
      const call: TurnCall = { key, intervalMs, weight, waiters: [waiter] };
      this.#open.set(id, call);
      this.#turn.add(call);
    });
  }

  /** Send one turn's calls: one script call (one server, several keys), or per node one pipeline or the lone command (src/core/turn.ts), in one bounded `run()` (one timer, one readiness check). */
  #send(calls: TurnCall[]): void {
    this.#open = new Map();
    const conn = this.#conn!;
    const send: (client: RedisClient) => Promise<Settled<[number, number]>[]> =
      calls.length > 1 && !conn.client.isCluster
        ? (client) => hitsOnOneServer(client, calls)
        : (client) =>
            execPerNode(
              client,
              calls.map((call) => ({
                key: call.key,
                add: (pipeline: ChainableCommander) => hitScript.queue(pipeline, [call.key], call.weight, call.intervalMs),
                alone: () => hitScript.run(client, [call.key], call.weight, call.intervalMs),
              })),
            );
    conn.run(send, this.#boundMs).then(
      (settled) => {
        let answered = false;
        settled.forEach((result, i) => {
          const call = calls[i]!;
          if (result.ok) {
            answered = true;
            const ttlMs = Number(result.value[1]);
            let count = Number(result.value[0]) - call.weight;
            for (const w of call.waiters) {
              count += w.weight;
              w.resolve({ count, ttlMs });
            }
          } else this.#fail(conn, call, result.error);
        });
        if (answered) recordSuccess(conn, this.#log());
      },
      (err: unknown) => {
        for (const call of calls) this.#fail(conn, call, err);
      },
    );
  }

  #fail(conn: BoundedConnection, call: TurnCall, err: unknown): void {
    recordFailure(conn, this.policy, err, this.#counters, this.#log());
    for (const w of call.waiters) w.reject(err);
  }

  /**
   * Take a hit back, in the window it was counted in (see UNHIT_LUA). Never rejects: a failure is
   * logged at debug level (the outage, if any, is reported by `hit`).
   */
  async unhit(key: string, weight: number, maxTtlMs: number): Promise<void> {
    try {
      const conn = this.connection;
      await conn.run((client) => unhitScript.run(client, [key], weight, Math.max(1, Math.ceil(maxTtlMs))), this.#timeoutMs);
    } catch (err) {
      this.#log().debug(`rate limit: could not take back a hit on ${key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
