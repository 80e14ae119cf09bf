/**
 * The cron guard: every task added to Strapi's cron service runs at most once per scheduled tick
 * across all instances, and never overlaps itself.
 *
 * For each tick a task fires, the guard:
 * 1. claims the tick: a lock on `cron:<task>:tick:<scheduled time>` that is never released and is
 *    held for at least twice the task's interval (10 s at least), so an instance that fires the
 *    same tick later (clock skew) finds it taken. The tick is Strapi's fire date, rounded to the
 *    second, unless that date lags the clock by more than half the hold: Strapi 5.54 chains fire
 *    dates from the one computed at `cron.add()` (`fireDate = nextFireDate; nextFireDate =
 *    job.nextRun(fireDate)`), so an instance whose event loop was blocked, whose process was
 *    suspended, or whose bootstrap was slow between `add` and `start`, keeps a fire date that lags
 *    real time by that long, for good, and past the hold it would replay ticks the other instances
 *    ran long ago. Such a tick is taken from the schedule instead: the latest time of the croner
 *    job Strapi added at or before this instance's clock. Below half the hold the date is kept: its
 *    claim is still held by whoever ran it, and a tick croner fired late on a loaded machine is not
 *    lost. The lag is counted (`lagMs`, `maxLagMs`, `correctedTicks`) and warned about once per
 *    task. The claim is retried when the votes of several lock connections split (it is never
 *    released, so retrying inside its window is safe), within half the interval.
 * 2. takes the task's run lock `cron:<task>` (TTL `lockTTL`, extended while the task runs): if a
 *    previous run still holds it, this tick is skipped and logged.
 * 3. runs the task with a trailing context argument `{ signal, fencingToken, tick, name }`.
 * A tick is never run unguarded: when Redis is unavailable it is skipped (one warning per outage).
 *
 * Longer than 350 lines: the wrapper of Strapi's cron service, the tick arithmetic (schedule, lag)
 * and the claim-run-record cycle are one flow; the run history is in cron-history.ts.
 */
import { createHash } from 'node:crypto';
import { INSTANCE_ID, type CronHistory } from './cron-history.js';
import type { SuiteLog } from './logger.js';
import { LockBusyError, LockTimeoutError, type LockService } from './locks.js';
import { RedisSuiteConfigError } from './errors.js';
import { OutageLog } from './outage.js';
import { bool, ms, optionDefaults, options, parseOptions, str } from './schema.js';
import { redactText } from './redact.js';

/** What a guarded task receives after Strapi's own arguments. */
export interface CronGuardContext {
  /** Fires if the run lock is lost while the task runs. */
  readonly signal: AbortSignal;
  /** Grows with every run of this task across all instances: pass it to writes that must not go back in time. */
  readonly fencingToken: number;
  /** The scheduled time of this tick. */
  readonly tick: Date;
  /** The name the guard keys this task by. */
  readonly name: string;
}

/** Per-task options the guard reads from Strapi's object form `{ task, options, ... }`. */
export interface GuardedTaskOptions {
  /** Run this task on every instance, unguarded. v2 name. */
  bypassRedlock?: boolean;
  /** The name to key locks by (default: the task's key; for function form, its rule and code). v2 name. */
  name?: string;
  /** Let a tick start while the previous run still runs. @default false */
  allowOverlap?: boolean;
  /** This task's run-lock TTL in ms. @default settings.lockTTL */
  lockTTL?: number;
}

/**
 * The schema of the per-task options, checked when Strapi adds the task (at boot): a wrong value
 * stops boot naming the task and the option. Open: the same object carries Strapi's own `task` and
 * `options`. `name` defaults to the task's key, `lockTTL` to `settings.lockTTL`.
 */
export const cronTaskOptionsShape = {
  bypassRedlock: bool().default(false),
  name: str('a non-empty string: the name the guard keys this task by', 'blank').optional(),
  allowOverlap: bool().default(false),
  lockTTL: ms(1, "the run lock's TTL in ms (an integer >= 1); leave it out for settings.lockTTL").optional(),
} satisfies Record<keyof GuardedTaskOptions, unknown>;
const cronTaskOptionsSchema = options(cronTaskOptionsShape, { open: true });

/** Every per-task option with its default (from the schema; `undefined`: the task's key, `settings.lockTTL`). */
export const CRON_TASK_OPTION_DEFAULTS = Object.freeze({ name: undefined, lockTTL: undefined, ...optionDefaults(cronTaskOptionsShape) }) as Readonly<{
  bypassRedlock: boolean;
  name: undefined;
  allowOverlap: boolean;
  lockTTL: undefined;
}>;

export interface CronGuardStats {
  runs: number;
  failures: number;
  /** Ticks another instance had claimed. */
  claimedElsewhere: number;
  /** Ticks skipped because the previous run was still running. */
  skippedOverlap: number;
  /** Ticks skipped because Redis was unavailable. */
  skippedUnavailable: number;
  /** Ticks skipped because the claim's votes stayed split for its whole window (several lock connections). */
  skippedSplit: number;
  /** How far the last tick's fire date from Strapi lagged this instance's clock, in ms. */
  lagMs: number;
  /** The largest such lag seen, in ms. */
  maxLagMs: number;
  /** Ticks keyed by the schedule's time instead of Strapi's fire date, because that lagged by more than half the claim's hold. */
  correctedTicks: number;
}

export interface GuardedTaskInfo {
  name: string;
  /** The key the task was added under (its name, or its rule for function form). */
  key: string;
  bypassRedlock: boolean;
  allowOverlap: boolean;
  running: boolean;
  /** The last run on this instance (`instance` is this process: `hostname:pid`). */
  lastRun?: { tick: string; startedAt: string; durationMs?: number; ok?: boolean; error?: string; instance: string };
}

/** The subset of Strapi's cron service the guard wraps. */
export interface CronServiceLike {
  add(tasks: Record<string, unknown>): unknown;
  readonly jobs?: ReadonlyArray<{ job?: CronJobLike; name?: string | null }>;
}

/** The croner job methods the guard reads the schedule from. */
interface CronJobLike {
  /** The first scheduled time after `prev` (croner). */
  nextRun?: (prev?: Date) => Date | null;
  /** Up to `n` scheduled times before `ref`, latest first (croner 8+). */
  previousRuns?: (n: number, ref?: Date) => Date[];
}

type TaskFn = (this: unknown, ...args: unknown[]) => unknown;

const ONE_SHOT_HOLD_MS = 60 * 60 * 1000;
const MIN_HOLD_MS = 10_000;
/** The claim's window is at most this share of the interval (and `lockAcquireTimeout`). */
const CLAIM_WINDOW_SHARE = 0.5;
/** Strapi's fire date is re-keyed once it lags the clock by more than this share of the claim's hold. */
const LAG_TOLERANCE_SHARE = 0.5;
/** Bound on walking a schedule forward to the clock, in steps. */
const MAX_SCHEDULE_STEPS = 1000;

interface TaskState {
  info: GuardedTaskInfo;
  job?: CronJobLike;
  /** A lag warning was logged and the lag has not gone away since. */
  lagging?: boolean;
}

export class CronGuard {
  readonly #locks: LockService;
  readonly #log: SuiteLog;
  readonly #lockTTL: number;
  readonly #history: CronHistory | undefined;
  readonly #tasks = new Map<string, TaskState>();
  readonly #running = new Set<Promise<unknown>>();
  readonly stats: CronGuardStats = {
    runs: 0,
    failures: 0,
    claimedElsewhere: 0,
    skippedOverlap: 0,
    skippedUnavailable: 0,
    skippedSplit: 0,
    lagMs: 0,
    maxLagMs: 0,
    correctedTicks: 0,
  };
  readonly #outage: OutageLog;
  #closing = false;

  /** `history`: where each run is recorded for every instance to see (the admin panel's cron view). */
  constructor(options: { locks: LockService; log: SuiteLog; lockTTL: number; history?: CronHistory }) {
    this.#locks = options.locks;
    this.#history = options.history;
    this.#log = options.log;
    this.#lockTTL = options.lockTTL;
    this.#outage = new OutageLog(() => this.#log, 'cron guard', 'ticks are skipped', {
      started: (message, tick) =>
        `cron guard: Redis unavailable, ${tick ?? 'a tick'} skipped (${message}). Ticks are skipped, never run unguarded, until the lock connections answer again.`,
      again: (message, tick) => `cron guard: ${tick ?? 'a tick'} skipped: Redis unavailable (${message})`,
      ended: (ms, skipped) => `cron guard: Redis available again after ${ms} ms; ${skipped} tick(s) were skipped meanwhile`,
    });
  }

  /**
   * Wrap a cron service's `add` so that every task added from now on is guarded, whatever adds
   * it (config/cron-tasks, any plugin, Strapi itself) and in either form.
   */
  install(cron: CronServiceLike): void {
    const original = cron.add;
    // the wrapper is a plain function: Strapi calls it with its own `this`, handed on to the task
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const guard = this;
    cron.add = function guardedAdd(this: unknown, tasks: Record<string, unknown> = {}) {
      for (const [key, value] of Object.entries(tasks ?? {})) {
        const before = cron.jobs?.length ?? 0;
        original.call(this, { [key]: guard.wrap(key, value, tasks) });
        const added = cron.jobs && cron.jobs.length > before ? cron.jobs[cron.jobs.length - 1] : undefined;
        const state = guard.#tasks.get(guard.#nameFor(key, value));
        // Strapi's handle proxies the croner job (and follows reschedule()): keep the handle.
        if (state && typeof added?.job?.nextRun === 'function') state.job = added.job;
      }
      return this;
    };
    this.#log.debug('cron guard installed: every task added to strapi.cron from now on is guarded');
  }

  /** Where runs are recorded for all instances (undefined: this instance's `tasks()` only). */
  get history(): CronHistory | undefined {
    return this.#history;
  }

  /** The tasks the guard knows, with their last run. */
  tasks(): GuardedTaskInfo[] {
    return [...this.#tasks.values()].map((t) => ({ ...t.info }));
  }

  /** Stop taking ticks; wait (bounded) for guarded runs in progress. */
  async close(timeoutMs = 5000): Promise<void> {
    this.#closing = true;
    if (this.#running.size === 0) return;
    const timer = new Promise((r) => setTimeout(r, timeoutMs).unref?.());
    await Promise.race([Promise.allSettled([...this.#running]), timer]);
  }

  #nameFor(key: string, value: unknown): string {
    if (typeof value === 'function') {
      // Function form: the key is the rule. Two tasks may share a rule, so add a hash of the code,
      // which is the same on every instance running the same app.
      const hash = createHash('sha1').update(value.toString()).digest('hex').slice(0, 8);
      return `${key}#${hash}`;
    }
    const opts = value as GuardedTaskOptions | undefined;
    return typeof opts?.name === 'string' && opts.name ? opts.name : key;
  }

  /** Return a guarded replacement for one entry of a cron `add()` object. */
  wrap(key: string, value: unknown, tasks: Record<string, unknown>): unknown {
    const isFn = typeof value === 'function';
    const obj = !isFn && value && typeof value === 'object' ? (value as GuardedTaskOptions & { task?: unknown }) : undefined;
    if (!isFn && typeof obj?.task !== 'function') return value; // Strapi reports the bad entry itself
    const checked = isFn
      ? { ...CRON_TASK_OPTION_DEFAULTS }
      : parseOptions(cronTaskOptionsSchema, obj, {
          root: `cron.tasks.${key}`,
          error: (issues) => new RedisSuiteConfigError(`options of cron task "${key}" (read by the Redis plugin's cron guard)`, issues),
        });
    const name = this.#nameFor(key, value);
    const info: GuardedTaskInfo = {
      name,
      key,
      bypassRedlock: checked.bypassRedlock,
      allowOverlap: checked.allowOverlap,
      running: false,
    };
    this.#tasks.set(name, { info });
    if (info.bypassRedlock) {
      this.#log.debug(`cron task "${name}" bypasses the guard (bypassRedlock: true): it runs on every instance`);
      return value;
    }
    const original = (isFn ? value : obj!.task) as TaskFn;
    const self = isFn ? tasks : obj;
    const ttl = checked.lockTTL ?? this.#lockTTL;
    // the wrapper is a plain function: Strapi calls it with its own `this`, handed on to the task
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const guard = this;
    const guarded = function guardedTask(this: unknown, ...args: unknown[]) {
      const run = guard.#tick(name, info, ttl, original, self, args);
      guard.#running.add(run);
      return run.finally(() => guard.#running.delete(run));
    };
    return isFn ? guarded : { ...obj, task: guarded };
  }

  /** The task's interval around `tickMs` from its schedule, in ms (undefined: one-shot or unknown). */
  #intervalAt(name: string, tickMs: number): number | undefined {
    const next = this.#tasks.get(name)?.job?.nextRun?.(new Date(tickMs));
    return next ? next.getTime() - tickMs : undefined;
  }

  #holdFor(name: string, tickMs: number): number {
    const interval = this.#intervalAt(name, tickMs) ?? ONE_SHOT_HOLD_MS;
    return Math.max(MIN_HOLD_MS, 2 * interval, this.#lockTTL);
  }

  /**
   * The latest scheduled time at or before `now` (ms), from the task's croner job; undefined when
   * the schedule is unknown. croner's previousRuns() gives a starting point near `now` (the walk
   * forward with nextRun() makes it exact); without it the walk starts at Strapi's fire date.
   */
  #scheduledAtOrBefore(job: CronJobLike | undefined, now: number, fireMs: number): number | undefined {
    if (typeof job?.nextRun !== 'function') return undefined;
    // Start from the later of croner's hint and Strapi's fire date (both scheduled times), if not after now.
    const starts: number[] = fireMs <= now ? [fireMs] : [];
    try {
      const hint = job.previousRuns?.(1, new Date(now + 1))?.[0]?.getTime();
      if (hint !== undefined && Number.isFinite(hint) && hint <= now && this.#onSchedule(job, hint)) starts.push(hint);
    } catch {
      // a croner without previousRuns(), or one that throws for this pattern: walk from the fire date
    }
    if (starts.length === 0) return undefined;
    let at = Math.max(...starts);
    for (let step = 0; step < MAX_SCHEDULE_STEPS; step++) {
      const next: number | undefined = job.nextRun(new Date(at))?.getTime();
      if (next === undefined || !Number.isFinite(next) || next > now) break;
      at = next;
    }
    return at;
  }

  /** True when `ms` is a time of the job's schedule. */
  #onSchedule(job: CronJobLike | undefined, ms: number): boolean {
    try {
      return job?.nextRun?.(new Date(ms - 1))?.getTime() === ms;
    } catch {
      return false;
    }
  }

  /** The tick to key this run by, and the lag of Strapi's fire date behind the clock. */
  #tickFor(name: string, fireDate: Date): number {
    const now = Date.now();
    const fireMs = fireDate.getTime();
    const state = this.#tasks.get(name);
    const lag = Math.max(0, now - fireMs);
    this.stats.lagMs = lag;
    this.stats.maxLagMs = Math.max(this.stats.maxLagMs, lag);
    // The scheduled second: instances whose clocks differ by less than 500 ms agree on it.
    const fired = Math.round(fireMs / 1000) * 1000;
    // Only a date of the schedule is corrected: a job's invoke() passes the current time, a tick of its own.
    if (!this.#onSchedule(state?.job, fireMs)) return fired;
    // Within half the claim's hold, Strapi's date is kept: whoever ran that tick still holds its
    // claim, so it cannot run twice, and a tick croner fired late (a loaded machine) is not lost.
    if (Math.abs(now - fireMs) <= this.#holdFor(name, fired) * LAG_TOLERANCE_SHARE) {
      if (state?.lagging) state.lagging = false;
      return fired;
    }
    const scheduled = this.#scheduledAtOrBefore(state?.job, now, fireMs);
    if (scheduled === undefined) return fired;
    const tick = Math.round(scheduled / 1000) * 1000;
    if (tick === fired) return fired;
    this.stats.correctedTicks++;
    const off = fireMs <= now ? `lags the clock by ${now - fireMs} ms` : `is ahead of the clock by ${fireMs - now} ms`;
    const message =
      `cron task "${name}": Strapi's fire date ${off} (${new Date(fireMs).toISOString()}; ` +
      `was the event loop blocked, the process suspended, cron started long after the task was added, or the clock set?); ` +
      `ticks are keyed by the schedule's time instead (${new Date(tick).toISOString()})`;
    if (state && !state.lagging) {
      state.lagging = true;
      this.#log.warn(message);
    } else this.#log.debug(message);
    return tick;
  }

  /** How long the claim may take: retries of a split vote stay well inside the interval. */
  #claimWindow(name: string, tickMs: number): number {
    const interval = this.#intervalAt(name, tickMs);
    const bound = this.#locks.acquireTimeout;
    return interval === undefined ? bound : Math.max(1, Math.min(bound, Math.floor(interval * CLAIM_WINDOW_SHARE)));
  }

  async #tick(name: string, info: GuardedTaskInfo, ttl: number, task: TaskFn, self: unknown, args: unknown[]): Promise<void> {
    const fireDate = args[1] instanceof Date ? args[1] : new Date();
    const tickMs = this.#tickFor(name, fireDate);
    const tickIso = new Date(tickMs).toISOString();
    if (this.#closing) {
      this.#log.debug(`cron task "${name}" tick ${tickIso} not run: shutting down`);
      return;
    }
    const unavailable = (err: unknown) => {
      this.stats.skippedUnavailable++;
      this.#outage.failed(err, `tick ${tickIso} of task "${name}"`);
    };

    const split = (err: LockTimeoutError) => {
      this.stats.skippedSplit++;
      this.#log.warn(
        `cron task "${name}" tick ${tickIso} skipped: the votes of the lock connections stayed split for ${err.timeoutMs} ms ` +
          `(no instance got a majority of settings.redlockConnections)`,
      );
    };

    // 1. Claim the tick (never released: it expires after the hold). Split votes are retried
    //    within the window; a majority held by another instance is final.
    try {
      const ttl = this.#holdFor(name, tickMs);
      const acquireTimeout = this.#claimWindow(name, tickMs);
      await this.#locks.acquire(`cron:${name}:tick:${tickMs}`, { ttl, acquireTimeout, wait: false, autoExtend: false, fence: false });
    } catch (err) {
      if (err instanceof LockBusyError) {
        this.stats.claimedElsewhere++;
        this.#log.debug(`cron task "${name}" tick ${tickIso} was claimed by another instance`);
        return;
      }
      if (err instanceof LockTimeoutError && err.reason === 'split') split(err);
      else unavailable(err);
      return;
    }
    this.#recovered();

    // 2. The run lock: no two runs of this task at once, across instances.
    let lock: Awaited<ReturnType<LockService['acquire']>> | undefined;
    if (!info.allowOverlap) {
      try {
        lock = await this.#locks.acquire(`cron:${name}`, { ttl, wait: false });
      } catch (err) {
        if (err instanceof LockBusyError) {
          this.stats.skippedOverlap++;
          this.#log.info(`cron task "${name}" tick ${tickIso} skipped: its previous run is still running`);
          return;
        }
        if (err instanceof LockTimeoutError && err.reason === 'split') split(err);
        else unavailable(err);
        return;
      }
    }

    // 3. Run it; a task failure is the task's, never a lock failure.
    const context: CronGuardContext = {
      signal: lock?.signal ?? new AbortController().signal,
      fencingToken: lock?.fencingToken ?? 0,
      tick: new Date(tickMs),
      name,
    };
    const startedAt = Date.now();
    info.running = true;
    const startedIso = new Date(startedAt).toISOString();
    info.lastRun = { tick: tickIso, startedAt: startedIso, instance: this.#history?.instance ?? INSTANCE_ID };
    this.stats.runs++;
    // Bounded, and never throws: recording cannot fail the task.
    const recorded = this.#history ? await this.#history.started(name, tickIso, startedIso) : undefined;
    try {
      await task.apply(self, [...args, context]);
      info.lastRun.ok = true;
    } catch (err) {
      this.stats.failures++;
      const e = err as Error;
      info.lastRun.ok = false;
      info.lastRun.error = redactText(e?.message ?? String(err));
      this.#log.error(`cron task "${name}" failed (tick ${tickIso}): ${redactText(e?.stack ?? String(err))}`);
    } finally {
      info.running = false;
      info.lastRun.durationMs = Date.now() - startedAt;
      if (recorded !== undefined) {
        const { durationMs, ok = false, error } = info.lastRun;
        await this.#history!.finished(name, recorded, error === undefined ? { durationMs, ok } : { durationMs, ok, error });
      }
      await lock?.release();
    }
  }

  #recovered(): void {
    this.#outage.ok();
  }
}
