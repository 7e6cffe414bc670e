import { defineConfig } from 'vitest/config';

/**
 * `npm run test:ha`: the tests that start their own Redis topologies (Sentinel failover, a Redis
 * Cluster, scaling under load). Slower than the rest, so kept out of `vitest run`; CI runs both.
 */
export default defineConfig({
  test: {
    include: ['test/ha/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
