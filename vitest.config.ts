import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests that start their own Redis topologies run in `npm run test:ha` (vitest.ha.config.ts).
    exclude: [...configDefaults.exclude, 'test/ha/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Scenario tests run several worker processes each; on a 2-core machine running those files in
    // parallel makes timing-sensitive assertions flaky, so files run one at a time.
    fileParallelism: false,
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
