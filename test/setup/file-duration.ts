/** Prints how long each browser test file took, from a hook: the figure lands in the log even when a test fails, with no test written only to print it. */
import { afterAll, beforeAll } from 'vitest'

let started = 0

beforeAll(() => {
  started = performance.now()
})

// The file's suite names it by its path from the root: `[test/browser/x.test.ts] file: 12.3 s`.
// eslint-disable-next-line no-empty-pattern -- vitest reads fixtures from this pattern; the suite comes second
afterAll(({}, suite) => {
  console.log(`[${suite.name}] file: ${((performance.now() - started) / 1000).toFixed(1)} s`)
})
