import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Two groups, run one after the other. The files that start no worker process (units, integration
 * and most fault tests) run two at a time: each uses its own Redis key prefix or its own
 * redis-server, and they wait on I/O much of the time. The files that start worker processes (the
 * scenarios, the dashboard's browser test, the fault tests with workers) run one at a time after
 * them: several worker processes on a 2-core machine make timing-sensitive assertions flaky when
 * two such files run at once.
 */
const WITH_WORKER_PROCESSES = [
  'test/scenario/**/*.test.ts',
  'test/browser/**/*.test.ts',
  'test/faults/{partition,redis-content,redis-tls-auth}.test.ts',
];
const shared = { testTimeout: 30_000, hookTimeout: 30_000 };

export default defineConfig({
  test: {
    // The tests that start their own Redis topologies run in `npm run test:ha` (vitest.ha.config.ts).
    exclude: [...configDefaults.exclude, 'test/ha/**'],
    dangerouslyIgnoreUnhandledErrors: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'in-process',
          include: ['test/{unit,integration,faults}/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...WITH_WORKER_PROCESSES],
          ...shared,
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'worker-processes',
          include: WITH_WORKER_PROCESSES,
          ...shared,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
