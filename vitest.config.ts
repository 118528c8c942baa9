import { configDefaults, defineConfig } from 'vitest/config'

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
          // side halve that; every node file bounds its waits generously (no timed assertions).
          maxWorkers: 2,
          include: ['test/**/*.test.{ts,tsx}'],
          // test/dpop/tabs.test.ts drives Chromium tabs: it runs with the browser files, alone.
          exclude: [...configDefaults.exclude, 'test/browser/**', 'test/dpop/tabs.test.ts'],
          sequence: { groupOrder: 0 },
          // Issue 26's token scan: every error and event of every file checked for token text.
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
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
