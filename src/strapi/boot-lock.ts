/**
 * The boot lock: one distributed lock around Strapi's schema sync phase, so that instances booting
 * at once against one database do not run migrations and schema changes concurrently
 * (strapi/strapi #27567: concurrent internal migrations duplicated rows).
 *
 * Strapi 5.54's `bootstrap()` (after every plugin's `register()`) does, in order:
 *   `db.init()` → read the stored content-types schema (`oldContentTypes`) → `beforeSync` hooks →
 *   `db.schema.sync()` (internal and user migrations, then the schema diff) → repairs →
 *   `afterSync` hooks → `store.set(strapi content_types schema)` → middlewares, routes → every
 *   plugin's `bootstrap()` → providers' bootstrap → the app's `bootstrap()`.
 * The lock is held for the whole of it: taken before it starts, released when it settles. Not
 * only the sync collides: the bootstraps after it seed data with check-then-insert (the admin's
 * roles and permissions, users-permissions' roles, an app's own seeding), and three instances
 * bootstrapping at once on an empty database failed a boot in this project's test (a foreign key
 * violation in `admin_permissions_role_lnk`) with a lock around the sync phase alone. An instance
 * that waited finds the schema stored and the data seeded, and does nothing twice.
 *
 * Cost on a single instance: one lock attempt (`wait: false`, no fencing token) on the boot path;
 * the holder record and the release are sent without being awaited.
 */
import { hostname } from 'node:os';
import * as path from 'node:path';
import type { BoundedConnection } from '../core/resolve.js';
import { LOCK_KEY_PREFIX, LockBusyError, LockTimeoutError, type HeldLock, type LockService } from '../core/locks.js';
import type { SuiteLog } from '../core/logger.js';
import { redactText } from '../core/redact.js';

export type BootLockOnError = 'proceed' | 'fail';

/** Another instance held the boot lock for longer than `settings.bootLockTimeout`. */
export class BootLockTimeoutError extends Error {
  override readonly name = 'BootLockTimeoutError';
  readonly code = 'REDIS_SUITE_BOOT_LOCK_TIMEOUT';
  constructor(
    readonly resource: string,
    readonly timeoutMs: number,
    readonly holder: string | undefined,
  ) {
    super(
      `The boot lock "${resource}" was still held by ${holder ?? 'another instance'} after ${timeoutMs} ms ` +
        `(settings.bootLockTimeout), so this instance did not start Strapi's bootstrap (schema sync, migrations). ` +
        `A holder that dies releases it within settings.bootLockTTL; one that is alive keeps extending it while it migrates: ` +
        `raise redis.settings.bootLockTimeout for long migrations, or look at that instance.`,
    );
  }
}

/** Redis could not be reached for the boot lock and `settings.bootLockOnError` is `'fail'`. */
export class BootLockUnavailableError extends Error {
  override readonly name = 'BootLockUnavailableError';
  readonly code = 'REDIS_SUITE_BOOT_LOCK_UNAVAILABLE';
  constructor(
    readonly resource: string,
    readonly timeoutMs: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The boot lock "${resource}" could not be taken within ${timeoutMs} ms (settings.bootLockTimeout): ${detail.replace(/\.+$/, '')}. ` +
        `Boot stops, because redis.settings.bootLockOnError is 'fail'; set it to 'proceed' to sync without the lock while Redis is unavailable.`,
      options,
    );
  }
}

export interface BootLockOptions {
  locks: LockService;
  /** Where the holder record goes (the first lock connection). */
  holderConnection: BoundedConnection;
  /** Lock resource, e.g. `boot:schema-sync:postgres/strapi`. */
  resource: string;
  ttl: number;
  timeout: number;
  onError: BootLockOnError;
  log: SuiteLog;
  /** Who this instance is in logs and the holder record. @default `<hostname>:<pid>` */
  identity?: string;
  /** Pause between attempts while Redis is unavailable (onError 'fail'). @default 500 */
  retryDelay?: number;
}

export type BootLockState = 'idle' | 'acquiring' | 'held' | 'released' | 'skipped';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class BootLock {
  readonly identity: string;
  readonly resource: string;
  readonly holderKey: string;
  #state: BootLockState = 'idle';
  #lock: HeldLock | undefined;
  #acquiredAt = 0;
  #refresh: NodeJS.Timeout | undefined;
  #sync: { status: string; ms: number } | undefined;
  #waitedMs = 0;
  readonly #o: BootLockOptions;

  constructor(options: BootLockOptions) {
    this.#o = options;
    this.identity = options.identity ?? `${hostname()}:${process.pid}`;
    this.resource = options.resource;
    this.holderKey = `${LOCK_KEY_PREFIX}${options.resource}:holder`;
  }

  get state(): BootLockState {
    return this.#state;
  }

  /** How long this instance waited for the lock (0 when it was free). */
  get waitedMs(): number {
    return this.#waitedMs;
  }

  /** Record what `db.schema.sync()` returned, for the release log line. */
  noteSync(status: string, ms: number): void {
    this.#sync = { status, ms };
  }

  /**
   * Take the lock: one attempt; when it is held, log who holds it and wait (bounded by `timeout`).
   * Resolves when held, or when skipped (Redis unavailable and onError 'proceed'). Rejects with
   * `BootLockTimeoutError`, or `BootLockUnavailableError` (onError 'fail').
   */
  async acquire(): Promise<void> {
    if (this.#state !== 'idle') return;
    this.#state = 'acquiring';
    const { locks, ttl, timeout, log } = this.#o;
    const started = Date.now();
    const deadline = started + timeout;
    let announced = false;
    let holder: string | undefined;
    let lastUnavailable: unknown;
    let held: HeldLock | undefined;
    for (let attempt = 0; !held; attempt++) {
      const remaining = deadline - Date.now();
      const attemptStarted = Date.now();
      try {
        if (remaining <= 0) throw new LockTimeoutError([this.resource], timeout);
        // First a single attempt (the one round trip a lone instance pays), then redlock's retries.
        held = await locks.acquire(this.resource, { ttl, wait: attempt > 0, acquireTimeout: remaining, fence: false, autoExtend: true });
      } catch (err) {
        if (err instanceof LockBusyError) {
          lastUnavailable = undefined;
          if (!announced) {
            announced = true;
            holder = await this.#readHolder();
            // The holder writes its record right after it acquires: a waiter that raced it reads
            // again shortly (at most 5 x 100 ms) rather than say "another instance".
            for (let retry = 0; holder === undefined && retry < 5 && Date.now() + 100 < deadline; retry++) {
              await sleep(100);
              holder = await this.#readHolder();
            }
            log.info(
              `boot lock "${this.resource}" is held by ${holder ?? 'another instance'}: ${this.identity} waits for it ` +
                `(up to ${timeout} ms, settings.bootLockTimeout) before Strapi's bootstrap (schema sync, migrations, seeding).`,
            );
          }
          // redlock's retries pace the waiting; with retryCount 0 they do not, so pace it here.
          if (Date.now() - attemptStarted < 150) await sleep(Math.min(200 + Math.floor(Math.random() * 100), Math.max(0, deadline - Date.now())));
          continue;
        }
        if (err instanceof LockTimeoutError) {
          this.#state = 'idle';
          if (lastUnavailable !== undefined) {
            throw new BootLockUnavailableError(this.resource, timeout, redactText((lastUnavailable as Error).message), { cause: lastUnavailable });
          }
          throw new BootLockTimeoutError(this.resource, timeout, (await this.#readHolder()) ?? holder);
        }
        // Redis unavailable (no majority of the lock connections answered), or anything else.
        const detail = redactText((err as Error)?.message ?? String(err));
        if (this.#o.onError === 'proceed') {
          this.#state = 'skipped';
          this.#waitedMs = Date.now() - started;
          log.warn(
            `boot lock "${this.resource}" could not be taken (${detail}): ${this.identity} runs Strapi's bootstrap (schema sync, migrations) ` +
              `WITHOUT it, as Strapi does without this plugin. Another instance booting now may migrate at the same time. ` +
              `Set redis.settings.bootLockOnError to 'fail' to stop boot instead.`,
          );
          return;
        }
        lastUnavailable = err;
        log.debug(`boot lock "${this.resource}": ${detail}; retrying`);
        await sleep(Math.min(this.#o.retryDelay ?? 500, Math.max(0, deadline - Date.now())));
      }
    }
    this.#lock = held;
    this.#state = 'held';
    this.#acquiredAt = Date.now();
    this.#waitedMs = this.#acquiredAt - started;
    this.#writeHolder();
    held.signal.addEventListener('abort', () => {
      if (this.#state !== 'held') return;
      log.warn(
        `boot lock "${this.resource}" was lost while ${this.identity} ran Strapi's bootstrap (${redactText(String((held.signal.reason as Error)?.message ?? 'unknown'))}): ` +
          `another instance may start its own now. Strapi's bootstrap cannot be interrupted; it goes on.`,
      );
    });
    log.info(
      announced
        ? `boot lock "${this.resource}" acquired by ${this.identity} after waiting ${this.#waitedMs} ms (it was held by ${holder ?? 'another instance'}).`
        : `boot lock "${this.resource}" acquired by ${this.identity} in ${this.#waitedMs} ms (it was free).`,
    );
  }

  /** Release (not awaited: the boot goes on at once; an unreleased lock expires after its TTL). */
  release(where = "after Strapi's bootstrap"): void {
    if (this.#state !== 'held') return;
    this.#state = 'released';
    clearInterval(this.#refresh);
    const heldMs = Date.now() - this.#acquiredAt;
    const lock = this.#lock;
    this.#lock = undefined;
    void lock?.release().catch(() => undefined);
    const sync = this.#sync ? `schema sync ${this.#sync.status} in ${this.#sync.ms} ms` : 'schema sync';
    this.#o.log.info(`boot lock "${this.resource}" released by ${this.identity} ${where}: ${sync}, held ${heldMs} ms.`);
  }

  /** The holder record next to the lock: `<identity> since <ISO time>`, kept alive while held. */
  #writeHolder(): void {
    const conn = this.#o.holderConnection;
    const value = `${this.identity} since ${new Date(this.#acquiredAt).toISOString()}`;
    const ttl = this.#o.ttl;
    const write = () => {
      void conn
        .run((client) => client.set(this.holderKey, value, 'PX', ttl))
        .catch((err: unknown) => {
          this.#o.log.debug(`boot lock holder record not written: ${redactText((err as Error).message)}`);
        });
    };
    write();
    this.#refresh = setInterval(write, Math.max(250, Math.floor(ttl / 3)));
    this.#refresh.unref?.();
  }

  async #readHolder(): Promise<string | undefined> {
    try {
      return (await this.#o.holderConnection.run((client) => client.get(this.holderKey))) ?? undefined;
    } catch {
      return undefined;
    }
  }
}

interface DatabaseConnectionConfig {
  client?: string;
  connection?: unknown;
}

/**
 * The lock resource for a Strapi database: `boot:schema-sync:<client>/<database>[/<schema>]`
 * (SQLite: the file's absolute path). Apps sharing one Redis with different databases do not wait
 * for each other; the host is left out on purpose, so instances that reach one server by different
 * addresses still share the lock.
 */
export function bootLockResource(database: unknown): string {
  const cfg = (database ?? {}) as DatabaseConnectionConfig;
  const client = typeof cfg.client === 'string' ? cfg.client : 'db';
  const conn = cfg.connection;
  let id: string | undefined;
  if (typeof conn === 'string') id = databaseFromUrl(conn);
  else if (conn && typeof conn === 'object') {
    const c = conn as Record<string, unknown>;
    if (typeof c.filename === 'string') id = path.resolve(c.filename);
    else {
      const db = typeof c.database === 'string' ? c.database : typeof c.connectionString === 'string' ? databaseFromUrl(c.connectionString) : undefined;
      if (db) id = typeof c.schema === 'string' && c.schema ? `${db}/${c.schema}` : db;
    }
  }
  return `boot:schema-sync:${client}${id ? `/${id}` : ''}`;
}

function databaseFromUrl(url: string): string | undefined {
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    return name || undefined;
  } catch {
    return undefined;
  }
}

/** The parts of Strapi the boot lock wraps (5.54: see the module comment). */
interface StrapiBootSurface {
  bootstrap?: (...args: unknown[]) => Promise<unknown>;
  db?: { schema?: { sync?: (...args: unknown[]) => Promise<unknown> } };
}

/**
 * Wrap Strapi's `bootstrap()` so that `lock` is held while it runs (taken first, released when it
 * settles, whether it succeeded or threw). Returns false (and wraps nothing) when this Strapi has
 * no `bootstrap()` method to wrap.
 */
export function installBootLock(strapi: unknown, lock: BootLock, log: SuiteLog): boolean {
  const s = strapi as StrapiBootSurface;
  const bootstrap = s.bootstrap;
  if (typeof bootstrap !== 'function') {
    log.warn('boot lock: this Strapi has no bootstrap() to wrap; the schema sync runs without the lock.');
    return false;
  }
  s.bootstrap = async function bootstrapUnderBootLock(this: unknown, ...args: unknown[]) {
    await lock.acquire();
    try {
      return await bootstrap.apply(this ?? strapi, args);
    } finally {
      lock.release("after Strapi's bootstrap");
    }
  };
  // Only for the log line: what the schema sync found (CHANGED / UNCHANGED) and how long it took.
  const schema = s.db?.schema;
  const sync = schema?.sync;
  if (schema && typeof sync === 'function') {
    schema.sync = async function syncNoted(this: unknown, ...args: unknown[]) {
      const started = Date.now();
      const status = await sync.apply(this ?? schema, args);
      lock.noteSync(String(status), Date.now() - started);
      return status;
    };
  }
  return true;
}

export interface BootLockSetup {
  settings: {
    bootLock: boolean;
    bootLockTimeout: number;
    bootLockTTL: number;
    bootLockOnError: BootLockOnError;
    redlockConnections: readonly string[];
    debug: boolean;
  };
  locks: () => LockService;
  connection: (name: string) => BoundedConnection;
  log: SuiteLog;
}

/**
 * Decide and install the boot lock from the plugin's `register()`. It is on when
 * `settings.bootLock` is (the default) and there is a lock connection (`redlockConnections`
 * resolves to the first enabled connection; none when every connection is disabled).
 */
export function setupBootLock(strapi: unknown, setup: BootLockSetup): BootLock | undefined {
  const { settings, log } = setup;
  if (!settings.bootLock) {
    log.debug('boot lock off (settings.bootLock: false): schema sync runs as in Strapi.');
    return undefined;
  }
  if (settings.redlockConnections.length === 0) {
    log.debug('boot lock off: no enabled connection to hold it (settings.redlockConnections is empty).');
    return undefined;
  }
  const config = (strapi as { config?: { get?(p: string): unknown } }).config;
  const resource = bootLockResource(config?.get?.('database.connection'));
  const lock = new BootLock({
    locks: setup.locks(),
    holderConnection: setup.connection(settings.redlockConnections[0]!),
    resource,
    ttl: settings.bootLockTTL,
    timeout: settings.bootLockTimeout,
    onError: settings.bootLockOnError,
    log,
  });
  return installBootLock(strapi, lock, log) ? lock : undefined;
}
