import { defineConfig } from 'vitest/config';

// End-to-end runs longer than the default suite allows (~30-60 s each, real processes and sockets):
// `npx vitest run --config vitest.e2e.config.ts` as their own CI step.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 120_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
