/**
 * Webhooks live on every instance. Strapi 5.54 keeps the webhooks its runner fires in memory
 * (`webhookRunner`, filled once from the `webhookStore` at boot); the admin's webhooks controller
 * writes the store, then updates only its own process' runner. A webhook created, changed,
 * disabled or deleted through instance A is unknown to B until B restarts (strapi/strapi #22595).
 *
 * The plugin wraps the store's writes: after each one it publishes `{ from, op, id }` on a Redis
 * channel (no webhook content: URLs and headers, which may hold tokens, stay in the database).
 * Every other instance reads that webhook from the database and applies it to its runner. When
 * the subscriber connection comes back after an outage, the instance reloads the whole list from
 * the database (a change made while it was away has no message anymore); an instance whose
 * publish failed publishes a `reload` once its connection is back.
 *
 * The subscriber is a duplicated connection the plugin owns and closes on destroy.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import type { RedisClient } from '../core/client.js';
import type { RedisConnection } from '../core/connection.js';
import type { SuiteLog } from '../core/logger.js';
import { duplicateClient, type OwnedClient } from '../core/owned-client.js';
import { redactText } from '../core/redact.js';
import { withTimeout } from '../core/time.js';

interface Webhook {
  id: string | number;
  [key: string]: unknown;
}

interface WebhookStoreLike {
  findWebhooks(): Promise<Webhook[]>;
  findWebhook(id: string | number): Promise<Webhook | null>;
  createWebhook(data: unknown): Promise<Webhook>;
  updateWebhook(id: string | number, data: unknown): Promise<Webhook | null>;
  deleteWebhook(id: string | number): Promise<Webhook | null>;
}

interface WebhookRunnerLike {
  add(webhook: Webhook): void;
  update(webhook: Webhook): void;
  remove(webhook: Pick<Webhook, 'id'>): void;
}

interface Message {
  v: 1;
  from: string;
  op: 'create' | 'update' | 'delete' | 'reload';
  id?: string;
}

/** In-process counters of the webhook sync. */
export interface WebhookSyncStats {
  /** Changes this instance announced. */
  published: number;
  /** Announcements that could not be sent (a `reload` follows when the connection is back). */
  publishFailed: number;
  /** Announcements from other instances applied here. */
  applied: number;
  /** Full reloads from the database (after the subscriber reconnected, or on a `reload`). */
  reloads: number;
  /** Announcements or reloads that failed (a database error, for instance). */
  failed: number;
}

export interface WebhookSyncOptions {
  connection: RedisConnection;
  channel: string;
  log: SuiteLog;
}

const isStore = (v: unknown): v is WebhookStoreLike =>
  !!v &&
  ['findWebhooks', 'findWebhook', 'createWebhook', 'updateWebhook', 'deleteWebhook'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function');
const isRunner = (v: unknown): v is WebhookRunnerLike =>
  !!v && ['add', 'update', 'remove'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function');

export class WebhookSync {
  readonly instance = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly stats: WebhookSyncStats = { published: 0, publishFailed: 0, applied: 0, reloads: 0, failed: 0 };
  readonly #o: WebhookSyncOptions;
  #store: WebhookStoreLike | undefined;
  #runner: WebhookRunnerLike | undefined;
  /** Ids this instance has seen in the database (so a reload removes only those, never a webhook added by code). */
  readonly #known = new Set<string>();
  #sub: OwnedClient | undefined;
  #queue: Promise<void> = Promise.resolve();
  #pendingNotify = false;
  #closed = false;

  constructor(options: WebhookSyncOptions) {
    this.#o = options;
  }

  /**
   * Wrap Strapi's webhook store and runner (from the plugin's `register()`). Returns false when
   * this Strapi has no webhook store/runner of the 5.x shape.
   */
  install(get: (name: string) => unknown): boolean {
    let store: unknown;
    let runner: unknown;
    try {
      store = get('webhookStore');
      runner = get('webhookRunner');
    } catch {
      // no such services
    }
    if (!isStore(store) || !isRunner(runner)) {
      this.#o.log.warn('webhook sync: this Strapi has no webhookStore/webhookRunner of the 5.x shape; webhooks stay per instance.');
      return false;
    }
    this.#store = store;
    this.#runner = runner;
    const known = this.#known;
    const track = (w: Webhook | null | undefined): void => {
      if (w && w.id !== undefined && w.id !== null) known.add(String(w.id));
    };

    const { findWebhooks, findWebhook, createWebhook, updateWebhook, deleteWebhook } = store;
    store.findWebhooks = async function findWebhooksTracked(this: unknown) {
      const list = await findWebhooks.call(this ?? store);
      list.forEach(track);
      return list;
    };
    store.findWebhook = async function findWebhookTracked(this: unknown, id) {
      const w = await findWebhook.call(this ?? store, id);
      track(w);
      return w;
    };
    store.createWebhook = async (data) => {
      const w = await createWebhook.call(store, data);
      track(w);
      await this.#publish('create', w?.id);
      return w;
    };
    store.updateWebhook = async (id, data) => {
      const w = await updateWebhook.call(store, id, data);
      track(w);
      await this.#publish('update', id);
      return w;
    };
    store.deleteWebhook = async (id) => {
      const w = await deleteWebhook.call(store, id);
      await this.#publish('delete', id);
      return w;
    };

    // Adding a webhook the runner already has replaces it (Strapi's add() would list it twice and
    // fire it twice): an announcement can arrive before Strapi loads the list at boot.
    const add = runner.add;
    runner.add = function addOnce(this: unknown, webhook: Webhook) {
      const self = (this ?? runner) as WebhookRunnerLike;
      self.remove({ id: webhook.id });
      return add.call(self, webhook);
    };
    return true;
  }

  /**
   * Subscribe (from the plugin's `bootstrap()`); does not wait for Redis: ioredis keeps trying,
   * and the first subscription is followed by a reload, so nothing announced meanwhile is missed.
   */
  start(): void {
    if (!this.#store || this.#sub || this.#closed) return;
    const { connection, channel, log } = this.#o;
    const owned = duplicateClient(connection.client, {
      purpose: 'the webhook sync subscriber',
      connection: connection.name,
      log,
      // Back after an outage: read the list again once the subscription is in place (a PING
      // queued behind the re-SUBSCRIBE answers after it).
      onReconnect: () => {
        void this.#settled(sub).then(() => {
          this.#enqueue(() => this.#reload('the subscriber reconnected'));
          if (this.#pendingNotify) void this.#publish('reload');
        });
      },
    });
    this.#sub = owned;
    const sub = owned.client;
    sub.on('message', (ch: string, raw: string) => {
      if (ch === channel) this.#onMessage(raw);
    });
    if (connection.isCluster) {
      // A Cluster's subscriber is one node connection of its own; it reconnects on its own.
      let first = true;
      (sub as Cluster).on('+subscriber', () => {
        if (first) {
          first = false;
          return;
        }
        this.#enqueue(() => this.#reload('the cluster subscriber reconnected'));
      });
    }
    sub.subscribe(channel).then(
      () => {
        log.debug(`webhook sync: subscribed to "${channel}" on connection "${connection.name}"`);
        // Anything announced before this subscription existed: read the list once.
        this.#enqueue(() => this.#reload('subscribed', true));
      },
      (err: Error) => log.debug(`webhook sync: subscribe failed (ioredis retries): ${redactText(err.message)}`),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sub?.close();
    await withTimeout(this.#queue, 2000, () => new Error('webhook reload still running')).catch(() => undefined);
  }

  async #settled(sub: RedisClient): Promise<void> {
    try {
      await withTimeout((sub as { ping(): Promise<unknown> }).ping(), 2000, () => new Error('PING timed out'));
    } catch {
      // best effort: the reload still runs
    }
  }

  async #publish(op: Message['op'], id?: string | number): Promise<void> {
    const { connection, channel, log } = this.#o;
    const msg: Message = { v: 1, from: this.instance, op, ...(id !== undefined && id !== null ? { id: String(id) } : {}) };
    try {
      await connection.run((client) => client.publish(channel, JSON.stringify(msg)));
      this.stats.published++;
      if (this.#pendingNotify && op === 'reload') {
        this.#pendingNotify = false;
        log.info('webhook sync: told the other instances to reload their webhooks (an earlier change could not be announced).');
      }
    } catch (err) {
      this.stats.publishFailed++;
      if (!this.#pendingNotify) {
        log.warn(
          `webhook sync: could not announce a webhook change on connection "${connection.name}" (${redactText((err as Error).message)}); ` +
            `the change is saved, other instances get it when this connection is back (or when they reconnect).`,
        );
      }
      this.#pendingNotify = true;
    }
  }

  #onMessage(raw: string): void {
    let msg: Message;
    try {
      msg = JSON.parse(raw) as Message;
    } catch {
      return;
    }
    if (!msg || msg.v !== 1 || msg.from === this.instance) return;
    if (msg.op === 'reload' || msg.id === undefined) {
      this.#enqueue(() => this.#reload(`${msg.from} asked for it`));
      return;
    }
    const id = String(msg.id);
    this.#enqueue(async () => {
      const webhook = await this.#store!.findWebhook(id);
      if (webhook) this.#runner!.update(webhook);
      else this.#runner!.remove({ id });
      this.stats.applied++;
      this.#o.log.info(`webhook sync: webhook ${id} ${webhook ? (msg.op === 'create' ? 'added' : 'updated') : 'removed'} (announced by ${msg.from})`);
    });
  }

  async #reload(why: string, quiet = false): Promise<void> {
    const list = await this.#store!.findWebhooks();
    const ids = new Set(list.map((w) => String(w.id)));
    for (const id of [...this.#known]) {
      if (!ids.has(id)) {
        this.#runner!.remove({ id });
        this.#known.delete(id);
      }
    }
    for (const w of list) this.#runner!.update(w);
    this.stats.reloads++;
    const line = `webhook sync: reloaded ${list.length} webhook(s) from the database (${why})`;
    if (quiet) this.#o.log.debug(line);
    else this.#o.log.info(line);
  }

  /** One change at a time, in arrival order: reads of one webhook never overtake each other. */
  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((err: unknown) => {
      this.stats.failed++;
      this.#o.log.warn(
        `webhook sync: applying a webhook change failed (${redactText((err as Error)?.message ?? String(err))}); it is applied at the next change or reconnect.`,
      );
    });
  }
}
