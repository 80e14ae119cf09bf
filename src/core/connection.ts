/**
 * One named connection: its ioredis client, lifecycle logging (once per state change), a bounded
 * wait for readiness, bounded request-path commands, status, and a clean close.
 *
 * Longer than 350 lines: the client's lifecycle, the bounded run() and the in-flight failure on close
 * share the connection's private state.
 */
import { CounterRegistry } from './counters.js';
import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { createClient, type RedisClient } from './client.js';
import type { ResolvedConnectionConfig, Topology } from './config.js';
import { RedisTimeoutError, RedisUnavailableError } from './errors.js';
import { summariseInfo, type ServerInfo } from './info.js';
import type { SuiteLog } from './logger.js';
import { redactText } from './redact.js';
import { now, withTimeout } from './time.js';
import { FeatureSet, type Feature, type FeatureUsage } from './usage.js';

export interface NodeStatus {
  /** `host:port` of the node. */
  address: string;
  /** Cluster: `master` or `replica` (from CLUSTER NODES); Sentinel: the master in use. */
  role?: 'master' | 'replica';
  /** ioredis' status of the client's link to the node, or, for Cluster nodes the client has no link to, the cluster's view (`connected`, `disconnected`, `fail`). */
  state: string;
  pingMs: number | null;
  server?: ServerInfo;
  error?: string;
}

export interface ConnectionStatus {
  name: string;
  topology: Topology;
  /** Where it points, with no secrets. */
  endpoint: string;
  /** ioredis' client status: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`. */
  state: string;
  ready: boolean;
  /** Round trip of a PING, in ms; null when it failed. */
  pingMs: number | null;
  /** Server facts from INFO (for Cluster: the node that answered; see `nodes`). */
  server?: ServerInfo;
  /** Cluster: every master and replica; Sentinel: the master in use. */
  nodes?: NodeStatus[];
  /** Cluster: `cluster_state` from CLUSTER INFO. */
  clusterState?: string;
  /** Milliseconds since the connection was last seen failing, while it is down. */
  downForMs?: number;
  /**
   * Standalone, Sentinel: a command bounded by `requestTimeout` has gone unanswered past its bound
   * on a link that is still up (a hung server): how long ago it was sent and the bound it missed.
   * Bounded commands fail at once meanwhile; `ready` stays true (the socket is open).
   */
  unanswered?: { forMs: number; timeoutMs: number };
  /** The last error seen, secrets removed. */
  lastError?: string;
}

export type ReadyResult = 'ready' | 'lazy' | 'timeout' | 'closed';

export class RedisConnection implements FeatureUsage {
  readonly name: string;
  readonly topology: Topology;
  readonly config: ResolvedConnectionConfig;
  /** The ioredis client (a `Redis`, or a `Cluster` for `nodes` configs). v2-compatible. */
  readonly client: RedisClient;
  /** The counters registry of the registry this connection belongs to (features on it register their counters there). */
  readonly counters: CounterRegistry;

  #log: SuiteLog;
  #closing = false;
  /** Ends ioredis made on its own in a row (see #reconnectAfterUnexpectedEnd); reset when ready. */
  #unexpectedEnds = 0;
  #reportedDown = false;
  #downSince: number | null = null;
  #lastError: string | undefined;
  readonly #features = new FeatureSet();

  constructor(config: ResolvedConnectionConfig, log: SuiteLog, counters: CounterRegistry = new CounterRegistry()) {
    this.name = config.name;
    this.counters = counters;
    this.topology = config.topology;
    this.config = config;
    this.#log = log;
    this.client = createClient(config);
    lastErrorOf.set(this.client, () => this.#lastError);
    this.#watch();
  }

  /** ioredis' status of the client (`end` once `close()` was called). */
  get state(): string {
    return this.#closing ? 'end' : this.client.status;
  }

  get isReady(): boolean {
    return this.client.status === 'ready';
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  get isCluster(): boolean {
    return this.topology === 'cluster';
  }

  /** Record that a feature of the suite (locks, cron, rateLimit, session, cache, apollo) uses this connection. */
  markUsedBy(feature: Feature): void {
    this.#features.add(feature);
  }

  /** The features that use this connection in this process (as marked by each when it binds to it). */
  get features(): readonly Feature[] {
    return this.#features.list();
  }

  #watch(): void {
    const c = this.client;
    c.on('error', (err: Error) => this.#trouble(err.message));
    if (this.isCluster) this.#watchClusterNodes(c as Cluster);
    c.on('ready', () => this.#onReady());
    c.on('close', () => {
      if (!this.#closing && this.#downSince === null && !this.#reportedDown) this.#trouble('connection closed');
    });
    c.on('reconnecting', (delay: number) => this.#log.debug(`connection "${this.name}" reconnecting in ${delay} ms`));
    // The status before `end`, and the last error (#trouble keeps it): an end straight from
    // `connecting` with ioredis' "Connection is closed." is a connect attempt its connector cut short.
    let before = '';
    for (const status of ['connecting', 'connect', 'ready', 'close', 'reconnecting'] as const) c.on(status, () => (before = status));
    c.on('end', () => {
      this.#log.debug(`connection "${this.name}" ended`);
      if (before === 'connecting' && this.#lastError === CUT_SHORT) this.#reconnectAfterUnexpectedEnd();
    });
    this.#log.debug(`connection "${this.name}" created (${this.topology}, ${this.config.endpoint})`);
  }

  /**
   * A Cluster client stays `ready` while one node fails (its replica takes over), so node errors
   * are tracked per node: one warning when a node fails, one info line when it is reachable again
   * or has left the cluster's slot map. They do not mark the whole connection down.
   */
  #watchClusterNodes(cluster: Cluster): void {
    // node -> when it failed, and whether its leaving the slot map was already logged
    const down = new Map<string, { since: number; left: boolean }>();
    cluster.on('node error', (err: Error, key: string) => {
      if (this.#closing) return;
      const msg = redactText(err.message || 'unknown error');
      if (down.has(key)) {
        this.#log.debug(`connection "${this.name}" node ${key}: ${msg}`);
        return;
      }
      down.set(key, { since: Date.now(), left: false });
      this.#log.warn(
        `connection "${this.name}": cluster node ${key} failed: ${sentence(msg)} The cluster client routes around it while the cluster fails over.`,
      );
    });
    const settle = () => {
      if (down.size === 0) return;
      const linked = new Map(cluster.nodes('all').map((n) => [`${n.options.host}:${n.options.port}`, n]));
      for (const [key, state] of down) {
        const node = linked.get(key);
        if (node?.status === 'ready') {
          down.delete(key);
          this.#log.info(`connection "${this.name}": cluster node ${key} is reachable again after ${Date.now() - state.since} ms`);
        } else if (!node && !state.left) {
          // Still unreachable (startup-node probes keep failing, at debug level) but no longer routed to.
          state.left = true;
          this.#log.info(`connection "${this.name}": cluster node ${key} left the slot map after ${Date.now() - state.since} ms`);
        }
      }
    };
    cluster.on('refresh', settle);
    cluster.on('-node', settle);
  }

  /**
   * ioredis ends a standalone or Sentinel client for good when a connect attempt is cut short by
   * its connector's own disconnect: with `failoverDetector`, the detector of an earlier link that
   * sees `+switch-master` while the client is reconnecting after the master died (the attempt
   * rejects with "Connection is closed." and the client goes to `end`, never retried). Found by the
   * chaos run (Sentinel, master SIGKILL then SENTINEL FAILOVER): one instance of three lost Redis
   * until it restarted. An end that neither `close()` nor a `disconnect()` of the client asked for
   * is followed by `connect()`, with a backoff while it repeats. Not for a Cluster (its client
   * ends only when asked to).
   */
  #reconnectAfterUnexpectedEnd(): void {
    const c = this.client;
    const asked = (): boolean => this.#closing || (c as unknown as { manuallyClosing?: boolean }).manuallyClosing === true;
    if (this.isCluster || asked()) return;
    const delay = Math.min(100 * 2 ** this.#unexpectedEnds, 2000);
    this.#unexpectedEnds++;
    this.#trouble('ioredis ended the connection after a connect attempt was cut short');
    const line = `connection "${this.name}" (${this.config.endpoint}): ioredis ended it without being asked to; connecting again in ${delay} ms.`;
    if (this.#unexpectedEnds === 1) this.#log.warn(line);
    else this.#log.debug(line);
    const timer = setTimeout(() => {
      if (asked() || c.status !== 'end') return;
      c.connect().catch((err: unknown) =>
        this.#log.debug(`connection "${this.name}": connect after an unexpected end failed: ${redactText((err as Error)?.message ?? String(err))}`),
      );
    }, delay);
    timer.unref?.();
  }

  #trouble(message: string): void {
    const msg = redactText(message || 'unknown error');
    this.#lastError = msg;
    this.#downSince ??= Date.now();
    if (this.#closing) return;
    if (this.#reportedDown) {
      this.#log.debug(`connection "${this.name}": ${msg}`);
      return;
    }
    this.#reportedDown = true;
    this.#log.warn(
      `connection "${this.name}" (${this.config.endpoint}) is down: ${sentence(msg)} ioredis keeps reconnecting; ` +
        `further errors are logged at debug level until it recovers.`,
    );
  }

  #onReady(): void {
    if (this.#reportedDown) {
      const downFor = this.#downSince === null ? 0 : Date.now() - this.#downSince;
      this.#log.info(`connection "${this.name}" (${this.config.endpoint}) is ready again after ${downFor} ms`);
    } else {
      this.#log.debug(`connection "${this.name}" ready`);
    }
    this.#reportedDown = false;
    this.#downSince = null;
    this.#lastError = undefined;
    this.#unexpectedEnds = 0;
  }

  /**
   * Wait until the client is ready, at most `timeoutMs`. Resolves at once when it already is
   * (never waits for a `ready` event that already fired); `lazy` for `lazyConnect` clients that
   * have not been used yet; `closed` when the client ended.
   */
  waitUntilReady(timeoutMs = this.config.readyTimeout): Promise<ReadyResult> {
    const status = this.client.status;
    if (status === 'ready') return Promise.resolve('ready');
    if (status === 'wait') return Promise.resolve('lazy');
    if (status === 'end') return Promise.resolve('closed');
    return new Promise((resolve) => {
      const done = (result: ReadyResult) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        this.client.off('end', onEnd);
        resolve(result);
      };
      const onReady = () => done('ready');
      const onEnd = () => done('closed');
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      timer.unref?.();
      this.client.on('ready', onReady);
      this.client.on('end', onEnd);
    });
  }

  /**
   * Run a request-path command, bounded: fails at once with `RedisUnavailableError` when the client
   * is not ready (nothing waits in ioredis' offline queue), at once with `RedisUnavailableError`
   * (`inFlight: true`) when the connection closes while the command waits for its reply (the
   * server died or closed the socket; on a Cluster, when the client lost every node), and with
   * `RedisTimeoutError` after `timeoutMs` (default: the connection's `requestTimeout`). After a
   * command bounded by at least `requestTimeout` timed out with the link up (a hung server), later
   * commands fail at once with `RedisUnavailableError` (`unanswered`) until it is answered or the
   * client reconnects: they would wait behind it (see `runBounded`).
   *
   * A timeout or a close in flight means the outcome is unknown: ioredis cannot cancel a sent
   * command, so it may still be applied later. After a close, ioredis itself resends the commands
   * that were unanswered once it reconnects (its `autoResendUnfulfilledCommands`, on by default);
   * a Cluster re-routes those of a node whose link closed, within this bound. Such a command may
   * be applied even after a newer write. Callers on the request path should prefer idempotent or
   * versioned writes.
   */
  run<T>(command: (client: RedisClient) => Promise<T>, timeoutMs = this.config.requestTimeout): Promise<T> {
    return runBounded(this.name, this.client, command, timeoutMs, this.config.requestTimeout);
  }

  /** PING round trip in ms (bounded like `run`). */
  async ping(timeoutMs = this.config.requestTimeout): Promise<number> {
    const start = now();
    await this.run((client) => client.ping(), timeoutMs);
    return Math.round((now() - start) * 100) / 100;
  }

  /** State, topology, PING latency and INFO basics; never throws. */
  async status(timeoutMs = Math.max(this.config.requestTimeout, 2000)): Promise<ConnectionStatus> {
    const base: ConnectionStatus = {
      name: this.name,
      topology: this.topology,
      endpoint: this.config.endpoint,
      state: this.client.status,
      ready: this.isReady,
      pingMs: null,
    };
    if (this.#downSince !== null && !this.isReady) base.downForMs = Date.now() - this.#downSince;
    if (this.#lastError) base.lastError = this.#lastError;
    const unanswered = watches.get(this.client)?.unanswered;
    if (unanswered) base.unanswered = { forMs: Math.round(now() - unanswered.sentAt), timeoutMs: unanswered.timeoutMs };
    if (!this.isReady) return base;
    try {
      base.pingMs = await this.ping(timeoutMs);
      if (this.isCluster) {
        const cluster = this.client as Cluster;
        const [clusterInfo, clusterNodes] = await Promise.all([
          this.run((client) => (client as Cluster).cluster('INFO') as Promise<string>, timeoutMs),
          this.run((client) => (client as Cluster).cluster('NODES') as Promise<string>, timeoutMs),
        ]);
        base.clusterState = /cluster_state:(\w+)/.exec(clusterInfo)?.[1] ?? 'unknown';
        // The cluster's own view lists every node; the client holds links to the masters it routes to.
        const linked = new Map(cluster.nodes('all').map((n) => [`${n.options.host}:${n.options.port}`, n]));
        base.nodes = await Promise.all(
          parseClusterNodes(clusterNodes).map(async (n) => {
            const node = linked.get(n.address);
            return node ? { ...(await nodeStatus(node, timeoutMs)), role: n.role } : n;
          }),
        );
        base.server = base.nodes.find((n) => n.server)?.server;
      } else {
        base.server = summariseInfo(await this.run((client) => (client as Redis).info(), timeoutMs));
        if (this.topology === 'sentinel') {
          const s = (this.client as Redis).stream;
          if (s?.remoteAddress)
            base.nodes = [{ address: `${s.remoteAddress}:${s.remotePort}`, state: this.client.status, pingMs: base.pingMs, server: base.server }];
        }
      }
    } catch (err) {
      base.lastError = redactText((err as Error).message);
    }
    return base;
  }

  /**
   * Close the client: QUIT (bounded by `timeoutMs`), then disconnect regardless, so no socket or
   * reconnect timer is left open. Safe to call twice.
   */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const c = this.client;
    if (c.status === 'end') return;
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    try {
      if (c.status === 'ready') {
        await withTimeout(c.quit(), timeoutMs, () => new RedisTimeoutError(this.name, timeoutMs));
      }
    } catch (err) {
      this.#log.debug(`connection "${this.name}" QUIT failed: ${(err as Error).message}`);
    }
    const status: string = c.status; // may have changed while QUIT ran
    const waitForEnd = status !== 'end' && status !== 'reconnecting' && status !== 'close';
    if (status !== 'end') c.disconnect();
    // A client that was between reconnect attempts has no socket to close and emits no 'end':
    // disconnect() cleared its timer, so nothing is left open either way.
    if (waitForEnd) await withTimeout(ended, 1000, () => new Error('no end event')).catch(() => undefined);
    this.#log.debug(`connection "${this.name}" closed`);
  }
}

/** One bounded command waiting for its reply: `fail` settles it with the error given. */
interface PendingCommand {
  readonly name: string;
  fail(err: Error): void;
}

/** The message of ioredis' own rejection when a connect attempt is cut short (its CONNECTION_CLOSED_ERROR_MSG). */
const CUT_SHORT = 'Connection is closed.';

/** The bounded commands in flight on each client, and the client's last error as the connection saw it. */
const watches = new WeakMap<RedisClient, ClientWatch>();
const lastErrorOf = new WeakMap<RedisClient, () => string | undefined>();

/** What `runBounded` keeps per client. */
interface ClientWatch {
  /** The bounded commands waiting for their reply. */
  readonly pending: Set<PendingCommand>;
  /**
   * Set when a command timed out on a standalone or Sentinel client that is still connected: when
   * it was sent, and the bound it missed. Cleared by that command's reply, or by `ready` (a new
   * link). Never set on a Cluster client (its nodes have links of their own).
   */
  unanswered: { sentAt: number; timeoutMs: number } | null;
}

/**
 * The watch of `client`, created with the client's first bounded command:
 *
 * - When the client emits `close` or `end` (its link closed: the server died or closed the socket,
 *   or the client was disconnected), every command in `pending` fails at once with
 *   `RedisUnavailableError` (`inFlight: true`), instead of waiting out its bound.
 *   - Standalone and Sentinel: `close` is the socket to the server (for Sentinel, the master in
 *     use). ioredis would keep those commands and resend them after it reconnects.
 *   - Cluster: the Cluster client emits `close` only when it has lost every node; then the same
 *     applies. One node's link closing is not a close of the client: ioredis re-routes the commands
 *     that were on it (slot refresh, `retryDelayOnFailover`), and the command's bound still applies.
 * - When the client emits `ready` (a new link), `unanswered` is cleared.
 *
 * Only `close`/`end`/`ready` listeners are added (never an `error` listener, which would change
 * how a raw client the application owns reports errors).
 */
function watchOf(client: RedisClient): ClientWatch {
  const existing = watches.get(client);
  if (existing) return existing;
  const watch: ClientWatch = { pending: new Set<PendingCommand>(), unanswered: null };
  watches.set(client, watch);
  const { pending } = watch;
  const closed = (event: 'close' | 'end') => () => {
    if (pending.size === 0) return;
    const failing = [...pending];
    pending.clear();
    const last = lastErrorOf.get(client)?.();
    const cause = new Error(`ioredis emitted "${event}" while the command was in flight${last ? ` (last error: ${last})` : ''}`);
    for (const p of failing) p.fail(new RedisUnavailableError(p.name, client.status, { cause, inFlight: true }));
  };
  client.on('close', closed('close'));
  client.on('end', closed('end'));
  client.on('ready', () => {
    watch.unanswered = null;
  });
  return watch;
}

/**
 * A command timed out and the link is still up. On one link (standalone, Sentinel) replies come
 * in the order the commands were sent, so every later command would wait behind this one: until
 * its reply arrives (or a new link is made), later bounded commands fail at once instead of each
 * waiting out its own bound. A Cluster client is left alone: its commands go to different nodes.
 */
function markUnanswered(watch: ClientWatch, client: RedisClient, sent: Promise<unknown>, timeoutMs: number): void {
  if ((client as { isCluster?: boolean }).isCluster === true || client.status !== 'ready') return;
  // It was sent (about) its bound ago: the bound just ran out.
  watch.unanswered ??= { sentAt: now() - timeoutMs, timeoutMs };
  const answered = (): void => {
    // A reply means the server got this far; a rejection while the link is down is not one (the
    // `ready` of the next link clears it then).
    if (client.status === 'ready') watch.unanswered = null;
  };
  // A value or a server error reply; not ioredis' own `commandTimeout` rejection (the link still up, no reply).
  sent.then(answered, (err: unknown) => {
    if (err instanceof ReplyError) answered();
  });
}

/**
 * A bounded command on any client: rejects at once with `RedisUnavailableError` when the client is
 * not ready, at once (`inFlight: true`) when the client's connection closes before the reply
 * arrives (see `watchOf`), and with `RedisTimeoutError` after `timeoutMs`.
 *
 * After a timeout of a command bounded by at least `hungAfterMs` (the connection's
 * `requestTimeout`) on a standalone or Sentinel client whose link is still up (a hung server, or
 * a command slower than that bound), every bounded command fails at once with
 * `RedisUnavailableError` (`unanswered` set) until the timed-out command is answered or the client
 * reconnects (see `markUnanswered`): during a hang, one request pays the bound and the rest fail
 * fast, instead of every request waiting `timeoutMs` per command.
 *
 * Either failure after the command was sent leaves its outcome unknown: ioredis cannot cancel a
 * sent command, and it resends commands that were unanswered when a standalone/Sentinel link
 * closed once it reconnects (`autoResendUnfulfilledCommands`, on by default); a Cluster re-routes
 * them. So a command that failed here may still be applied later, even after a newer write.
 */
export function runBounded<T>(
  name: string,
  client: RedisClient,
  command: (client: RedisClient) => Promise<T>,
  timeoutMs: number,
  hungAfterMs: number = timeoutMs,
): Promise<T> {
  const status = client.status;
  if (status !== 'ready') return Promise.reject(new RedisUnavailableError(name, status));
  const watch = watchOf(client);
  const { unanswered } = watch;
  if (unanswered)
    return Promise.reject(
      new RedisUnavailableError(name, status, { unanswered: { forMs: Math.round(now() - unanswered.sentAt), timeoutMs: unanswered.timeoutMs } }),
    );
  const { pending } = watch;
  let sent: Promise<T>;
  try {
    sent = command(client);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<T>((resolve, reject) => {
    const entry: PendingCommand = { name, fail: reject };
    pending.add(entry);
    withTimeout(sent, timeoutMs, () => new RedisTimeoutError(name, timeoutMs)).then(
      (value) => {
        pending.delete(entry);
        resolve(value);
      },
      (err: unknown) => {
        // Still pending: not already failed by a close of the link (see watchOf).
        // A shorter bound (the response cache's readTimeout: a slower read is a miss) says nothing of a hang.
        if (pending.delete(entry) && err instanceof RedisTimeoutError && timeoutMs >= hungAfterMs) markUnanswered(watch, client, sent, timeoutMs);
        reject(err);
      },
    );
  });
}

/** End a message with exactly one period. */
function sentence(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/** Parse CLUSTER NODES: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link-state> <slots...>`. */
export function parseClusterNodes(text: string): NodeStatus[] {
  const out: NodeStatus[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(' ');
    if (parts.length < 8) continue;
    const address = (parts[1] ?? '').split('@')[0] ?? '';
    const flags = (parts[2] ?? '').split(',');
    if (flags.includes('noaddr') || flags.includes('handshake')) continue;
    const failed = flags.includes('fail');
    out.push({
      address,
      role: flags.includes('master') ? 'master' : 'replica',
      state: failed ? 'fail' : (parts[7] ?? 'unknown'),
      pingMs: null,
    });
  }
  return out.sort((a, b) => (a.role === b.role ? a.address.localeCompare(b.address) : a.role === 'master' ? -1 : 1));
}

async function nodeStatus(node: Redis, timeoutMs: number): Promise<NodeStatus> {
  const address = `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`;
  const out: NodeStatus = { address, state: node.status, pingMs: null };
  // Cluster opens replica connections lazily: a PING wakes them. A node that ended is reported as is.
  if (node.status === 'end') return out;
  try {
    const start = now();
    await withTimeout(node.ping(), timeoutMs, () => new Error(`PING to ${address} timed out after ${timeoutMs} ms`));
    out.pingMs = Math.round((now() - start) * 100) / 100;
    out.server = summariseInfo(await withTimeout(node.info(), timeoutMs, () => new Error(`INFO on ${address} timed out`)));
    out.state = node.status;
  } catch (err) {
    out.error = redactText((err as Error).message);
  }
  return out;
}
