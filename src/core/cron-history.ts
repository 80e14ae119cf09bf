/**
 * The last run of each guarded cron task, shared across instances: one small hash per task,
 * `<prefix><task name>` (default prefix `cron:last:`), with fields `run` (a random id), `tick`,
 * `startedAt`, `instance` (`hostname:pid`), and, once the run ended, `durationMs`, `ok`, `error`.
 * Each write renews a TTL (7 days), so a task that is removed leaves nothing behind for long.
 *
 * Writes are bounded (the connection's `run()`, by `CRON_HISTORY_TIMEOUT_MS` of their own, not the
 * connection's request-path `requestTimeout`), and a failure is logged at debug level and
 * swallowed: recording never fails or delays a task beyond one bounded command.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from './client.js';
import type { SuiteLog } from './logger.js';
import { redactText } from './redact.js';
import { defineScript } from './script.js';
import FINISH_LUA from './lua/cron-history-finish.lua';

export const CRON_HISTORY_PREFIX = 'cron:last:';
export const CRON_HISTORY_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Bound on each history write, in ms. */
export const CRON_HISTORY_TIMEOUT_MS = 1000;
/** Stored error messages are cut to this many characters. */
const MAX_ERROR_CHARS = 500;

/** One run as recorded (and as the admin panel shows it). */
export interface CronRunRecord {
  tick: string;
  startedAt: string;
  durationMs?: number;
  ok?: boolean;
  error?: string;
  /** `hostname:pid` of the instance that ran it. */
  instance: string;
}

/** What the history needs of a connection (a `RedisConnection` fits). */
export interface HistoryConnection {
  run<T>(command: (client: RedisClient) => Promise<T>, timeoutMs?: number): Promise<T>;
}

/** Record the end of a run unless a newer run of the task started meanwhile (see the .lua header). */
const finishScript = defineScript<string[], number>('cron-history-finish', FINISH_LUA, 1);

/** This process, as the history names it. */
export const INSTANCE_ID = `${hostname()}:${process.pid}`;

export class CronHistory {
  readonly prefix: string;
  readonly ttlMs: number;
  readonly instance: string;
  readonly #conn: () => HistoryConnection;
  readonly #log: SuiteLog;

  constructor(options: { connection: () => HistoryConnection; log: SuiteLog; prefix?: string; ttlMs?: number; instance?: string }) {
    this.#conn = options.connection;
    this.#log = options.log;
    this.prefix = options.prefix ?? CRON_HISTORY_PREFIX;
    this.ttlMs = options.ttlMs ?? CRON_HISTORY_TTL_MS;
    this.instance = options.instance ?? INSTANCE_ID;
  }

  key(task: string): string {
    return `${this.prefix}${task}`;
  }

  /** Record the start of a run; resolves with its id (never rejects). */
  async started(task: string, tick: string, startedAt: string): Promise<string> {
    const run = randomBytes(8).toString('hex');
    const key = this.key(task);
    await this.#write(task, (client) =>
      client.multi().del(key).hset(key, 'run', run, 'tick', tick, 'startedAt', startedAt, 'instance', this.instance).pexpire(key, this.ttlMs).exec(),
    );
    return run;
  }

  /** Record the end of run `run` (ignored when a newer run of the task started meanwhile; never rejects). */
  async finished(task: string, run: string, result: { durationMs: number; ok: boolean; error?: string }): Promise<void> {
    const fields = ['durationMs', String(result.durationMs), 'ok', result.ok ? '1' : '0'];
    if (result.error !== undefined) fields.push('error', redactText(result.error).slice(0, MAX_ERROR_CHARS));
    await this.#write(task, (client) => finishScript.run(client, [this.key(task)], run, String(this.ttlMs), ...fields));
  }

  /** The last recorded run of each task (absent when none); throws when Redis fails. */
  async read(tasks: readonly string[]): Promise<Map<string, CronRunRecord>> {
    const out = new Map<string, CronRunRecord>();
    if (tasks.length === 0) return out;
    const hashes = await this.#conn().run((client) => Promise.all(tasks.map((t) => client.hgetall(this.key(t)))));
    tasks.forEach((task, i) => {
      const record = toRecord(hashes[i]);
      if (record) out.set(task, record);
    });
    return out;
  }

  async #write(task: string, command: (client: RedisClient) => Promise<unknown>): Promise<void> {
    try {
      await this.#conn().run(command, CRON_HISTORY_TIMEOUT_MS);
    } catch (err) {
      this.#log.debug(`cron task "${task}": its run could not be recorded for the admin panel: ${redactText((err as Error).message)}`);
    }
  }
}

function toRecord(h: Record<string, string> | undefined): CronRunRecord | undefined {
  if (!h || !h.tick || !h.startedAt) return undefined;
  const record: CronRunRecord = { tick: h.tick, startedAt: h.startedAt, instance: h.instance ?? 'unknown' };
  if (h.durationMs !== undefined && h.durationMs !== '') record.durationMs = Number(h.durationMs);
  if (h.ok !== undefined) record.ok = h.ok === '1';
  if (h.error !== undefined) record.error = h.error;
  return record;
}
