/**
 * The counter a limiter or store runs on its Redis connection. The connection is found through
 * the suite's one lookup (src/core/resolve.ts): a connection name (Strapi), `{ registry,
 * connection }` or a raw `client` (plain Koa).
 *
 * Every command is bounded like `RedisConnection.run()`: it fails at once when the client is not
 * ready (nothing waits in ioredis' offline queue) and after `requestTimeout` otherwise.
 */
import { createHash } from 'node:crypto';
import { RedisTimeoutError } from '../../core/errors.js';
import { now } from '../../core/time.js';
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

/** A hit waiting for its key's batch. */
interface Waiter {
  weight: number;
  at: number;
  resolve(result: HitResult): void;
  reject(err: unknown): void;
}

/** A script call waiting for its turn's batch. */
interface TurnCall {
  conn: BoundedConnection;
  key: string;
  weight: number;
  intervalMs: number;
  /** The call's bound, ms. */
  leftMs: number;
  resolve(reply: [number, number]): void;
  reject(err: unknown): void;
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

/** The hits of one key (and window length): at most one script call in flight, the rest queued. */
interface KeyQueue {
  inFlight: boolean;
  waiting: Waiter[];
}

/**
 * A fixed-window counter on one connection: one atomic script call per hit, or, with `coalesce`,
 * one per batch of a key's hits. The calls of one event-loop turn, across keys, reach Redis in one
 * bounded run, each with its own reply: on one server as one many-key script call
 * (`hitsOnOneServer`), on a Cluster as one pipeline per node (src/core/turn.ts). Failures are recorded in the shared outage log (one warning per
 * outage) and rethrown for the caller's policy.
 *
 * Coalescing: while a key's call is in flight, further hits on that key wait and go together in the
 * next call as one INCRBY of their summed weight. The reply's count is split back in arrival order,
 * so every hit still gets its own exact count (the counter in Redis equals the sum of all weights,
 * and no two hits of a window see the same count). Each hit waits at most the command bound from
 * its own arrival: a batch whose oldest hit has used up the bound fails without being sent, and a
 * failed call fails the hits queued behind it.
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
  #queues = new Map<string, KeyQueue>();
  /** This turn's script calls, sent together in its check phase. */
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
    let conn: BoundedConnection;
    try {
      conn = this.connection;
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.coalesce) {
      return this.#call(conn, key, weight, intervalMs, this.#timeoutMs).then((r) => ({ count: Number(r[0]), ttlMs: Number(r[1]) }));
    }
    const id = `${intervalMs}\u0000${key}`;
    let queue = this.#queues.get(id);
    if (!queue) {
      queue = { inFlight: false, waiting: [] };
      this.#queues.set(id, queue);
    }
    const q = queue;
    return new Promise<HitResult>((resolve, reject) => {
      q.waiting.push({ weight, at: now(), resolve, reject });
      if (!q.inFlight) this.#flush(conn, id, q, key, intervalMs);
    });
  }

  /** One script call, sent with the other calls of this turn (see `#send`), bounded by `timeoutMs` (default: the connection's). */
  #call(conn: BoundedConnection, key: string, weight: number, intervalMs: number, timeoutMs: number | undefined): Promise<[number, number]> {
    return new Promise<[number, number]>((resolve, reject) => {
      this.#turn.add({ conn, key, weight, intervalMs, leftMs: timeoutMs ?? this.#boundMs, resolve, reject });
    });
  }

  /**
   * Send one turn's calls: one pipeline per node, in one bounded `run()` (one timer, one readiness
   * check). The batch's bound is its shortest: every call of a turn arrived in that turn, so they
   * differ only when a coalesced batch had waited behind a call in flight; a call with less than
   * half the bound left goes in a batch of its own, so it cannot cut the others' bound short.
   */
  #send(calls: TurnCall[]): void {
    const full: TurnCall[] = [];
    for (const call of calls) {
      if (call.leftMs * 2 >= this.#boundMs) full.push(call);
      else this.#sendBatch([call]);
    }
    if (full.length > 0) this.#sendBatch(full);
  }

  #sendBatch(calls: TurnCall[]): void {
    const conn = calls[0]!.conn;
    const boundMs = Math.min(...calls.map((call) => call.leftMs));
    const send: (client: RedisClient) => Promise<Settled<[number, number]>[]> =
      calls.length > 1 && !conn.client.isCluster
        ? (client) => hitsOnOneServer(client, calls)
        : (client) =>
            execPerNode(
              client,
              calls.map((call) => ({
                key: call.key,
                add: (pipeline: ChainableCommander) => hitScript.queue(pipeline, [call.key], call.weight, call.intervalMs),
                alone: () => hitScript.run(conn.client, [call.key], call.weight, call.intervalMs),
              })),
            );
    conn.run(send, boundMs).then(
      (settled) => {
        let answered = false;
        settled.forEach((result, i) => {
          const call = calls[i]!;
          if (result.ok) {
            answered = true;
            call.resolve(result.value);
          } else {
            recordFailure(conn, this.policy, result.error, this.#counters, this.#log());
            call.reject(result.error);
          }
        });
        if (answered) recordSuccess(conn, this.#log());
      },
      (err: unknown) => {
        for (const call of calls) {
          recordFailure(conn, this.policy, err, this.#counters, this.#log());
          call.reject(err);
        }
      },
    );
  }

  #flush(conn: BoundedConnection, id: string, q: KeyQueue, key: string, intervalMs: number): void {
    const batch = q.waiting;
    q.waiting = [];
    q.inFlight = true;
    let total = 0;
    for (const w of batch) total += w.weight;
    const bound = this.#boundMs;
    const left = Math.ceil(bound - (now() - batch[0]!.at));
    let sent: Promise<[number, number]>;
    if (left >= 1) {
      sent = this.#call(conn, key, total, intervalMs, left);
    } else {
      const err = new RedisTimeoutError(conn.name, bound);
      recordFailure(conn, this.policy, err, this.#counters, this.#log());
      sent = Promise.reject(err);
    }
    sent.then(
      (reply) => {
        const ttlMs = Number(reply[1]);
        let count = Number(reply[0]) - total;
        for (const w of batch) {
          count += w.weight;
          w.resolve({ count, ttlMs });
        }
        this.#next(conn, id, q, key, intervalMs);
      },
      (err: unknown) => {
        // The server failed this call: the hits queued behind it would meet the same fate later.
        const failed = batch.concat(q.waiting);
        q.waiting = [];
        for (const w of failed) w.reject(err);
        this.#next(conn, id, q, key, intervalMs);
      },
    );
  }

  #next(conn: BoundedConnection, id: string, q: KeyQueue, key: string, intervalMs: number): void {
    if (q.waiting.length > 0) {
      this.#flush(conn, id, q, key, intervalMs);
    } else {
      q.inFlight = false;
      this.#queues.delete(id);
    }
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
