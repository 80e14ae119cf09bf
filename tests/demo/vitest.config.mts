import { defineConfig } from 'vitest/config';

// `npm run demo`, run as a user runs it (npm run test:demo). Kept out of the default `npm test`
// (whose include is tests/**/*.test.ts): the demo serves the admin panel, whose build (`strapi
// build`, 1-3 minutes) `npm run test:admin` makes and caches. Its files end in `.demo.ts`.
export default defineConfig({
  test: {
    include: ['tests/demo/**/*.demo.ts'],
    globals: false,
    pool: 'forks',
    // single.demo.ts and multi.demo.ts side by side (their own Redis, ports and folders).
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 90_000,
    // A first run installs the playground and builds the admin panel.
    hookTimeout: 15 * 60_000,
    teardownTimeout: 60_000,
  },
});
