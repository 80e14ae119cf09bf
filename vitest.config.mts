import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { defineConfig, type Plugin } from 'vitest/config';

/** `.lua` files load as their text, as tsup's `text` loader bundles them (src/core/script.ts). */
export const luaAsText: Plugin = {
  name: 'lua-as-text',
  load(id) {
    if (!id.endsWith('.lua')) return null;
    return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
  },
};

export default defineConfig({
  plugins: [luaAsText],
  test: {
    include: ['tests/**/*.test.ts'],
    globals: false,
    // Starts shared standalone / Cluster / Sentinel servers once per run (see tests/harness).
    globalSetup: ['tests/harness/global-setup.ts'],
    pool: 'forks',
    // File parallelism stays on; fault tests kill only servers they started themselves, and tests
    // that count commands (INFO commandstats, MONITOR) or change server config do it on servers
    // of their own. Vitest's default is one worker per core less one: a single worker on a
    // 2-core machine, which leaves the cores idle while tests wait on servers and timers. Two
    // workers there (TEST_WORKERS to change it); the suite is checked to pass under far more load.
    fileParallelism: true,
    maxWorkers: Number(process.env.TEST_WORKERS ?? Math.max(2, availableParallelism() - 1)),
    testTimeout: 30_000,
    // e2e suites boot Strapi and fault suites start their own Redis topologies in hooks.
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
