import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The kill -9 crash-safety test runs for minutes: its own script and CI step (`npm run test:kill`).
    exclude: [...configDefaults.exclude, 'test/e2e/kill/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests open real sockets on port 0 and real SQLite files;
    // forks keep native modules (better-sqlite3, serialport) isolated.
    pool: 'forks',
    reporters: ['default'],
  },
});
