import { configDefaults, defineConfig } from 'vitest/config'

/**
 * Node files that load both cores themselves: run one at a time after the others (project 'alone').
 * The zoo (test/sim/zoo.test.ts, ~30 s of virtual-time schedules in one process) runs beside the others.
 */
const ALONE = ['test/redis/cluster.test.ts', 'test/sim/schedules.test.ts']

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          // vitest's default is one worker less than the cores: on this 2-core machine, one file
          // at a time (the node files took 542 s end to end in CI, 481 s of it tests). Two side by
          // side nearly halve that; every node file bounds its waits generously (no timed
          // assertions). The files that load the machine themselves run in 'alone' afterwards.
          maxWorkers: 2,
          include: ['test/**/*.test.{ts,tsx}'],
          // test/dpop/tabs.test.ts drives Chromium tabs: it runs with the browser files, alone.
          exclude: [...configDefaults.exclude, 'test/browser/**', 'test/dpop/tabs.test.ts', ...ALONE],
          sequence: { groupOrder: 0 },
          // Issue 26's token scan: every error and event of every file checked for token text.
          setupFiles: ['test/setup/token-scan-setup.ts'],
          globalSetup: ['test/setup/token-scan-global.ts'],
        },
      },
      {
        // Files that use both cores themselves (eight Redis client processes on real time, the
        // simulator's two child processes): one at a time, with nothing beside them. Under load
        // (two files side by side on a busy machine) the Redis partition scenario starved its
        // processes past their leases.
        extends: true,
        test: {
          name: 'alone',
          include: ALONE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          setupFiles: ['test/setup/token-scan-setup.ts'],
          globalSetup: ['test/setup/token-scan-global.ts'],
        },
      },
      {
        // Real browsers, one file at a time and after the rest: on 2 cores, two browser files
        // side by side starve each other's timers (cross-tab (a) saw 401s and 3 s calls while
        // engines.test.ts launched Firefox and WebKit next to it; each passes alone). The same
        // holds inside a file: two traffic scenarios at once, each with its own server, port and
        // context or even browser, took seconds per call and saw 401s (AT 2 s) in every engine.
        // The rotation worker's files are the exception, measured: there tabs send no channel
        // traffic and never refresh, and the two transports side by side (five tabs each)
        // passed in every engine at load 8–13 (test/browser/worker*.test.ts; the Chromium-only
        // file gives its ATs 3 s for slack).
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts', 'test/dpop/tabs.test.ts'],
          // How long each file took, from a hook (test/setup/file-duration.ts).
          setupFiles: ['test/setup/file-duration.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
})
