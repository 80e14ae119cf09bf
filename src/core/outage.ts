/**
 * The one outage logger of the suite: one warning when a feature's Redis starts failing and one
 * info line when it answers again; everything in between goes to debug level. A feature on the
 * request path must not write a line per request. Every feature (caches, sessions, rate limit,
 * cron guard) logs its outages through this class, with its own wording.
 */
import { redactText } from './redact.js';
import type { SuiteLog } from './logger.js';

/** How a feature words its outage lines. `message` is the failure's message, secrets redacted. */
export interface OutageWording {
  /** The warning at the first failure of an outage; `context` is what the caller passed to `failed()`. */
  started(message: string, context?: string): string;
  /** The debug line for each further failure. */
  again(message: string, context?: string): string;
  /** The info line when Redis answers again: `ms` since the first failure, `failures` counted meanwhile. */
  ended(ms: number, failures: number): string;
}

const messageOf = (err: unknown): string => redactText(err instanceof Error ? err.message : String(err));

/** The wording of the caches and the session store: `what` names the part, `meanwhile` what happens while Redis fails. */
export function commandWording(what: string, meanwhile: string): OutageWording {
  return {
    started: (message) => `${what}: Redis failed: ${message} Until it answers again ${meanwhile}; further errors go to debug level.`,
    again: (message) => `${what}: ${message}`,
    ended: (ms, failures) => `${what}: Redis answers again after ${ms} ms (${failures} failed command${failures === 1 ? '' : 's'} meanwhile).`,
  };
}

export class OutageLog {
  readonly #log: () => SuiteLog;
  readonly #wording: OutageWording;
  /** For setup errors: what the part is and what happens meanwhile (the command wording's terms). */
  readonly #what: string;
  readonly #meanwhile: string;
  #since: number | null = null;
  #failures = 0;
  /** Messages of setup problems already logged (an unknown connection name, no Strapi). */
  readonly #setupErrors = new Set<string>();

  /**
   * @param what the part, as the log lines name it, e.g. `Apollo cache (connection "cache", namespace "apollo")`
   * @param meanwhile what happens while Redis fails, e.g. `reads are misses and writes are skipped`
   * @param wording the feature's own lines; `commandWording(what, meanwhile)` by default
   */
  constructor(log: () => SuiteLog, what: string, meanwhile: string, wording: OutageWording = commandWording(what, meanwhile)) {
    this.#log = log;
    this.#what = what;
    this.#meanwhile = meanwhile;
    this.#wording = wording;
  }

  /** True between a failure and the next success. */
  get down(): boolean {
    return this.#since !== null;
  }

  /**
   * A command failed or timed out (for the cron guard: a tick was skipped for it). `context` is
   * handed to the wording (e.g. which tick); `log`, when given, takes the line instead of the
   * constructor's (an outage log shared by several parts writes to the part that saw it).
   */
  failed(err: unknown, context?: string, log: SuiteLog = this.#log()): void {
    const message = messageOf(err);
    this.#failures++;
    if (this.#since !== null) {
      log.debug(this.#wording.again(message, context));
      return;
    }
    this.#since = Date.now();
    log.warn(this.#wording.started(message, context));
  }

  /** A command succeeded: ends an outage in progress with one line (to `log` when given). Cheap when there is none. */
  ok(log?: SuiteLog): void {
    if (this.#since === null) return;
    const ms = Date.now() - this.#since;
    const failures = this.#failures;
    this.#since = null;
    this.#failures = 0;
    (log ?? this.#log()).info(this.#wording.ended(ms, failures));
  }

  /** The target could not be resolved (configuration, not an outage): one error line per distinct message. */
  setupFailed(err: unknown): void {
    const message = messageOf(err);
    if (this.#setupErrors.has(message)) return;
    this.#setupErrors.add(message);
    this.#log().error(`${this.#what}: ${message} Meanwhile ${this.#meanwhile}.`);
  }
}
