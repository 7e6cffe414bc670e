import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/ha/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Scenario tests run several worker processes each; on a 2-core machine running those files in
    // parallel makes timing-sensitive assertions flaky, so files run one at a time.
    fileParallelism: false,
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
