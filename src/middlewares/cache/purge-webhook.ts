/**
 * The built-in purge hook: after every purge, one HTTP request per configured URL tells a CDN (or
 * any receiver) which tags and keys were dropped. Deliveries never block the purge that caused
 * them: they are queued (at most `maxPending` queued or running; more are dropped, counted, and
 * warned about once per overflow) and sent `concurrency` at a time with `fetch`, each attempt
 * bounded by `timeout`; a network error, a timeout, 429 or 5xx is retried `retries` times after
 * `backoff` ms, doubled each time. Hand-written rather than a queue library: the bound that drops
 * (instead of waiting) and the retry policy are the whole of it, a few lines.
 *
 * Logs name a URL by its origin and path only (a query may hold a token); header values never.
 */
import type { SuiteLog } from '../../core/logger.js';
import type { ResolvedPurgeWebhook } from './option-groups.js';

export interface PurgeWebhookCounters {
  /** Deliveries the receiver accepted (2xx-4xx but 429). */
  delivered: number;
  /** Deliveries given up after their retries. */
  failed: number;
  /** Attempts after the first. */
  retried: number;
  /** Deliveries dropped because `maxPending` were queued or running. */
  dropped: number;
}

/** Fill `{{tags}}`, `{{keys}}` (JSON arrays), `{{tags.space}}`, `{{tags.comma}}`, `{{keys.space}}`, `{{keys.comma}}`. */
export function fillTemplate(template: string, tags: readonly string[], keys: readonly string[], encode: (s: string) => string = (s) => s): string {
  return template.replace(/\{\{\s*(tags|keys)(?:\.(space|comma|json))?\s*\}\}/g, (_m, what: string, form: string | undefined) => {
    const list = what === 'tags' ? tags : keys;
    if (form === 'space') return encode(list.join(' '));
    if (form === 'comma') return encode(list.join(','));
    return encode(JSON.stringify(list));
  });
}

/** A URL as logs may show it: origin and path, no query, no credentials. */
const shown = (url: string): string => {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
};

interface Delivery {
  url: string;
  init: { method: string; headers: Record<string, string>; body?: string };
}

export class PurgeWebhook {
  readonly counters: PurgeWebhookCounters = { delivered: 0, failed: 0, retried: 0, dropped: 0 };
  readonly #settings: ResolvedPurgeWebhook;
  readonly #log: SuiteLog;
  readonly #queue: Delivery[] = [];
  #running = 0;
  #overflowing = false;
  readonly #idle = new Set<() => void>();

  constructor(settings: ResolvedPurgeWebhook, log: SuiteLog) {
    this.#settings = settings;
    this.#log = log;
  }

  /** Queue one delivery per URL (returns at once). */
  notify(tags: readonly string[], allKeys: readonly string[]): void {
    const s = this.#settings;
    const keys = allKeys.slice(0, s.maxKeys);
    for (const template of s.urls) {
      if (this.#queue.length + this.#running >= s.maxPending) {
        this.counters.dropped++;
        if (!this.#overflowing) {
          this.#overflowing = true;
          this.#log.warn(`purge webhook: ${s.maxPending} deliveries queued or running (purgeWebhook.maxPending); dropping new ones until the queue drains`);
        }
        continue;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(s.headers)) headers[name] = fillTemplate(value, tags, keys);
      const hasBody = s.method !== 'GET' && s.method !== 'HEAD';
      this.#queue.push({
        url: fillTemplate(template, tags, keys, encodeURIComponent),
        init: { method: s.method, headers, ...(hasBody ? { body: fillTemplate(s.body, tags, keys) } : {}) },
      });
    }
    this.#pump();
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  /** Deliveries queued or running. */
  get pending(): number {
    return this.#queue.length + this.#running;
  }

  #pump(): void {
    while (this.#running < this.#settings.concurrency && this.#queue.length > 0) {
      const delivery = this.#queue.shift()!;
      this.#running++;
      void this.#deliver(delivery).finally(() => {
        this.#running--;
        if (this.#queue.length + this.#running < this.#settings.maxPending / 2) this.#overflowing = false;
        this.#pump();
        if (this.#queue.length === 0 && this.#running === 0) {
          for (const resolve of this.#idle) resolve();
          this.#idle.clear();
        }
      });
    }
  }

  async #deliver(d: Delivery): Promise<void> {
    const s = this.#settings;
    let last = '';
    for (let attempt = 0; attempt <= s.retries; attempt++) {
      if (attempt > 0) {
        this.counters.retried++;
        await new Promise((r) => setTimeout(r, s.backoff * 2 ** (attempt - 1)));
      }
      try {
        const res = await fetch(d.url, { ...d.init, signal: AbortSignal.timeout(s.timeout) });
        // the body is not needed: release the connection
        await res.body?.cancel().catch(() => undefined);
        if (res.status !== 429 && res.status < 500) {
          this.counters.delivered++;
          if (res.status >= 400)
            this.#log.warn(`purge webhook: ${d.init.method} ${shown(d.url)} answered ${res.status}; not retried (check purgeWebhook.urls/headers/body)`);
          return;
        }
        last = `answered ${res.status}`;
      } catch (err) {
        last = (err as Error).name === 'TimeoutError' ? `no answer within purgeWebhook.timeout (${s.timeout} ms)` : `failed: ${(err as Error).message}`;
      }
    }
    this.counters.failed++;
    this.#log.warn(`purge webhook: ${d.init.method} ${shown(d.url)} ${last} after ${s.retries + 1} attempt(s); the CDN keeps what it holds until its own TTL`);
  }
}
