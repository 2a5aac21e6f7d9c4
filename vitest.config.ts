import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests open real sockets on port 0 and real SQLite files;
    // forks keep native modules (better-sqlite3, serialport) isolated.
    pool: 'forks',
    reporters: ['default'],
  },
});
