/**
 * Strapi refuses to boot with each invalid config: one error naming the path, the value and the
 * fix, printed by Strapi's "Error regarding redis config", exit code 1, no password in the output.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BAD_CONFIGS, CANARY } from '../fixtures/bad-configs.js';
import { ensurePlaygroundInstalled, startApp } from './app.js';

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
});

describe('bad configs stop Strapi at boot', () => {
  it(`each of ${BAD_CONFIGS.length} bad configs exits 1 with a clear error and no secret`, async () => {
    const results: Array<{ title: string; code: number | null; logs: string; path: string; expect: RegExp }> = [];
    const queue = [...BAD_CONFIGS];
    // three Strapi processes at a time on two cores
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for (let bad = queue.shift(); bad; bad = queue.shift()) {
          const app = await startApp({ pluginConfig: bad.config as object, expectBootFailure: true, readyTimeoutMs: 60_000 });
          const exit = await app.exited;
          results.push({ title: bad.title, code: exit.code, logs: app.logs(), path: bad.path, expect: bad.expect });
        }
      }),
    );
    expect(results).toHaveLength(BAD_CONFIGS.length);
    for (const r of results) {
      const where = `${r.title}:\n${r.logs.slice(-1500)}`;
      expect(r.code, where).toBe(1);
      expect(r.logs, where).toContain('Error regarding redis config: Invalid Redis plugin config');
      expect(r.logs, where).toContain(`${r.path}: got `);
      expect(r.logs, where).toMatch(r.expect);
      expect(r.logs, where).not.toContain(CANARY);
    }
  }, 240_000);
});
