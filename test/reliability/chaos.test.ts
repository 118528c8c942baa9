/**
 * Property-based chaos (issue 5): random interleavings of 2–4 tabs sharing one crossTab
 * name and one cookie jar or bearer pair, requests, clock jumps (up to 3× the AT lifetime),
 * refresh faults (503, dropped connection, 429, hang past a short refreshTimeout, a proxy's HTML
 * 200, answers slower than refreshTimeout, an answer cut off after the server rotated, and a
 * rare 401 refusal), server-side AT revocation, logouts, rotate() calls, tabs closing and
 * opening, and (in half the schedules) a `reauthenticate` hook, so that a tab closed while its
 * hook runs hands the job over. The "response lost" fault is left out on purpose (see
 * faults.test.ts).
 *
 * Invariants (chaos-harness.ts): the server never counts a reused RT; every request and
 * rotate() settles within a bound; no 401 reaches a caller while the RT was valid and the
 * server up; logouts only for the contract's reasons; every tab's generation only grows.
 *
 * Replay a failure: CHAOS_SEED=<seed> CHAOS_PATH=<path> npx vitest run test/reliability/chaos.test.ts
 */
import fc from 'fast-check'
import { expect, test } from 'vitest'
import { runSchedule, scheduleArb } from './chaos-harness.js'

const RUNS = Number(process.env['CHAOS_RUNS'] ?? 200)
const seed = process.env['CHAOS_SEED']
const path = process.env['CHAOS_PATH']
const strict = process.env['CHAOS_STRICT'] !== '0'

test(`chaos: ${RUNS} random schedules keep every invariant`, async () => {
  const started = Date.now()
  let excused = 0
  await fc.assert(
    fc.asyncProperty(scheduleArb(), async schedule => {
      const { violations, trace, excused: lost } = await runSchedule(schedule, { trace: true, strict })
      if (lost.length > 0) excused++
      if ((violations.length > 0 || lost.length > 0) && process.env['CHAOS_TRACE']) {
        const { appendFileSync } = await import('node:fs')
        appendFileSync(process.env['CHAOS_TRACE'], `\n==== ${JSON.stringify(schedule)}\n${[...violations, ...trace].join('\n')}\n`)
      }
      expect(violations).toEqual([])
    }),
    { numRuns: RUNS, ...(seed ? { seed: Number(seed) } : {}), ...(path ? { path } : {}) },
  )
  console.log(`chaos: ${RUNS} schedules in ${Date.now() - started} ms (${excused} with a lost refresh answer, excused)`)
}, 120_000)
