/**
 * One log line when a feature's Redis starts failing and one when it answers again; everything in
 * between goes to debug level. A feature on the request path must not write a line per request.
 */
import { redactText } from './redact.js';
import type { SuiteLog } from './logger.js';

export class OutageLog {
  readonly #log: () => SuiteLog;
  readonly #what: string;
  readonly #meanwhile: string;
  #since: number | null = null;
  #failures = 0;
  /** Messages of setup problems already logged (an unknown connection name, no Strapi). */
  readonly #setupErrors = new Set<string>();

  /**
   * @param what the cache, as the log line names it, e.g. `Apollo cache (connection "cache", namespace "apollo")`
   * @param meanwhile what happens while Redis fails, e.g. `reads are misses and writes are skipped`
   */
  constructor(log: () => SuiteLog, what: string, meanwhile: string) {
    this.#log = log;
    this.#what = what;
    this.#meanwhile = meanwhile;
  }

  /** True between a failure and the next success. */
  get down(): boolean {
    return this.#since !== null;
  }

  /** A command failed or timed out. */
  failed(err: unknown): void {
    const message = redactText(err instanceof Error ? err.message : String(err));
    this.#failures++;
    if (this.#since !== null) {
      this.#log().debug(`${this.#what}: ${message}`);
      return;
    }
    this.#since = Date.now();
    this.#log().warn(`${this.#what}: Redis failed: ${message} Until it answers again ${this.#meanwhile}; further errors go to debug level.`);
  }

  /** A command succeeded. */
  ok(): void {
    if (this.#since === null) return;
    const ms = Date.now() - this.#since;
    const failures = this.#failures;
    this.#since = null;
    this.#failures = 0;
    this.#log().info(`${this.#what}: Redis answers again after ${ms} ms (${failures} failed command${failures === 1 ? '' : 's'} meanwhile).`);
  }

  /** The target could not be resolved (configuration, not an outage): one error line per distinct message. */
  setupFailed(err: unknown): void {
    const message = redactText(err instanceof Error ? err.message : String(err));
    if (this.#setupErrors.has(message)) return;
    this.#setupErrors.add(message);
    this.#log().error(`${this.#what}: ${message} Meanwhile ${this.#meanwhile}.`);
  }
}
