import type { RedisLogger } from '../../src/index.js';

export interface CapturedLogger extends RedisLogger {
  lines: Array<{ level: 'debug' | 'info' | 'warn' | 'error'; message: string }>;
  of(level: 'debug' | 'info' | 'warn' | 'error'): string[];
  all(): string;
}

/** A logger that records what the suite writes. */
export function captureLogger(): CapturedLogger {
  const lines: CapturedLogger['lines'] = [];
  return {
    lines,
    debug: (message) => lines.push({ level: 'debug', message }),
    info: (message) => lines.push({ level: 'info', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    error: (message) => lines.push({ level: 'error', message }),
    of: (level) => lines.filter((l) => l.level === level).map((l) => l.message),
    all: () => lines.map((l) => `${l.level}: ${l.message}`).join('\n'),
  };
}

/** Poll `check` until it returns true, at most `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
