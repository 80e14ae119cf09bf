import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globals: false,
    // Starts shared standalone / Cluster / Sentinel servers once per run (see tests/harness).
    globalSetup: ['tests/harness/global-setup.ts'],
    pool: 'forks',
    // File parallelism stays on; fault tests kill only servers they started themselves.
    fileParallelism: true,
    testTimeout: 30_000,
    // e2e suites boot Strapi and fault suites start their own Redis topologies in hooks.
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
