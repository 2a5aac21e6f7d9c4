import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `npm run test:kill`: the crash-safety test alone (about 3 minutes, so it is
 * its own CI step and not part of `npm test`). It runs the built gateway
 * (`dist/`), so the npm script builds first.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: {
    include: ['test/e2e/kill/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
