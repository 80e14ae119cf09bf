/**
 * The cron view: every task the guard knows, with its last run across all instances (from the
 * run history in Redis), or this instance's own last run when Redis has none or cannot be read.
 */
import type { CronGuard } from '../core/cron-guard.js';
import type { CronRunRecord } from '../core/cron-history.js';
import { redactText } from '../core/redact.js';

export interface CronTaskView {
  name: string;
  bypassRedlock: boolean;
  allowOverlap: boolean;
  running: boolean;
  lastRun?: CronRunRecord;
  /** Where `lastRun` comes from: `redis` (any instance) or `local` (this instance only). */
  lastRunSource?: 'redis' | 'local';
}

export interface CronView {
  enabled: boolean;
  tasks: CronTaskView[];
  /** Set when the shared history could not be read (the view then shows this instance's runs). */
  historyError?: string;
}

export async function cronView(guard: CronGuard | undefined): Promise<CronView> {
  if (!guard) return { enabled: false, tasks: [] };
  const tasks = guard.tasks();
  let shared = new Map<string, CronRunRecord>();
  let historyError: string | undefined;
  if (guard.history) {
    try {
      shared = await guard.history.read(tasks.map((t) => t.name));
    } catch (err) {
      historyError = redactText((err as Error).message);
    }
  }
  const view: CronView = {
    enabled: true,
    tasks: tasks.map((t) => {
      const out: CronTaskView = { name: t.name, bypassRedlock: t.bypassRedlock, allowOverlap: t.allowOverlap, running: t.running };
      const remote = shared.get(t.name);
      const local = t.lastRun;
      // The newer of the two: this instance may have run it after the history was last written (a failed write).
      if (remote && (!local || remote.startedAt >= local.startedAt)) {
        out.lastRun = remote;
        out.lastRunSource = 'redis';
      } else if (local) {
        out.lastRun = { ...local };
        out.lastRunSource = 'local';
      }
      return out;
    }),
  };
  if (historyError) view.historyError = historyError;
  return view;
}
