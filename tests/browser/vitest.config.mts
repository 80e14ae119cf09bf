import { defineConfig } from 'vitest/config';
import { luaAsText } from '../../vitest.config.mjs';

// The admin panel in a real browser (npm run test:admin). Kept out of the default `npm test`
// (whose include is tests/**/*.test.ts): it needs an admin build (`strapi build`, minutes) and
// Chromium. Its files end in `.browser.ts`.
export default defineConfig({
  plugins: [luaAsText],
  test: {
    include: ['tests/browser/**/*.browser.ts'],
    globals: false,
    pool: 'forks',
    // One app, one browser: the steps run in order and share them.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
  },
});
