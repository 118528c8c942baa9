/**
 * The deterministic simulator (issue 28) in npm test: real sessions on virtual tabs, one seed
 * deciding every timer, message, lock grant, network outcome and fault (test/sim/, docs/simulation.md).
 */
import { describe, expect, test } from 'vitest'
import { INVARIANTS, type InvariantName } from './invariants.js'
import { runSchedule, ZOO, type ScheduleResult } from './schedule.js'

/** How many schedules this file runs (SIM_SCHEDULES overrides); the target is 10,000. */
const SCHEDULES = Number(process.env['SIM_SCHEDULES'] ?? 1000)
const FIRST_SEED = 1

/**
 * Counterexamples the simulator found that are not fixed yet, each a regression seed: it must
 * still break the invariant listed (when a fix makes it pass, its test goes red: remove it here).
 * docs/simulation.md describes each.
 */
const OPEN_FINDINGS: Record<number, InvariantName> = {
  // Not located yet (docs/simulation.md): a failing reauthenticate hook that ignores its signal
  // ends a tab after the user logged in again elsewhere.
  490: 'no-unasked-logout',
  973: 'no-unasked-logout',
  // A GET open 1 s past its documented bound (queueTimeout + refresh time), under a chain of faults.
  371: 'request-settles',
}

/**
 * Seeds that once broke an invariant, kept passing: each names the defect it found.
 * - 248 (also 30125, 30206, 30374, 31690): tabs signed out at a higher generation never adopted
 *   a later login made, at a lower one, in a tab that found nothing stored (a signed-out tab did
 *   not answer `hello`; src/core/sync.ts #answer).
 * - 32347 (also 31885): a refresh answered 200 whose body never arrives: the give-up timer was
 *   cancelled once the headers were in, the lock stayed held, requests never settled
 *   (src/core/refresh-call.ts keeps it armed until the body is read).
 */
const REGRESSION_SEEDS = [248, 30125, 30206, 30374, 31690, 32347, 31885]

const replay = (result: ScheduleResult) => `npm run sim -- --seed ${result.seed} --schedules 1 --trace`

describe('the deterministic simulator', () => {
  test('a seed replays: the same trace, byte for byte, run after run', async () => {
    const [first, second] = [await runSchedule(7), await runSchedule(7)]
    expect(second.trace.join('\n')).toBe(first.trace.join('\n'))
    expect(second.hash).toBe(first.hash)
    // The trace records scheduler decisions, and no token.
    expect(first.trace.some(line => /sim-(at|rt)-/.test(line))).toBe(false)
    expect((await runSchedule(8)).hash).not.toBe(first.hash)
  })

  test(`${SCHEDULES} schedules: every invariant holds after every step`, { timeout: 600_000 }, async () => {
    const failures: string[] = []
    let refreshes = 0
    let faults = 0
    const started = performance.now()
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SCHEDULES; seed++) {
      if (seed in OPEN_FINDINGS) continue
      const result = await runSchedule(seed)
      refreshes += result.stats.refreshGranted
      faults += result.stats.faults
      for (const v of result.violations) failures.push(`[${v.invariant}] ${v.detail} at ${v.at} ms — ${replay(result)}`)
    }
    const perSecond = SCHEDULES / ((performance.now() - started) / 1000)
    console.info(`sim: ${SCHEDULES} schedules, ${perSecond.toFixed(1)}/s, ${refreshes} refreshes granted, ${faults} faults drawn`)
    expect(failures).toEqual([])
    // The runs did something: refreshes happened and faults were drawn.
    expect(refreshes).toBeGreaterThan(SCHEDULES)
    expect(faults).toBeGreaterThan(0)
  })

  test.each(ZOO)('bug zoo: %s is caught within 50 schedules', { timeout: 300_000 }, async zoo => {
    let caught: ScheduleResult | undefined
    for (let seed = 1; seed <= 50 && !caught; seed++) {
      const result = await runSchedule(seed, { zoo })
      if (result.violations.length > 0) caught = result
    }
    expect(caught?.violations[0]?.invariant).toBeDefined()
    console.info(`zoo ${zoo}: caught at seed ${caught?.seed} by ${caught?.violations[0]?.invariant}`)
  })

  test.each(REGRESSION_SEEDS)('regression seed %i: every invariant holds', async seed => {
    const result = await runSchedule(seed)
    expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)}`)).toEqual([])
  })

  test.each(Object.entries(OPEN_FINDINGS))('open finding, seed %s: still breaks %s', async (seed, invariant) => {
    const result = await runSchedule(Number(seed))
    expect(result.violations[0]?.invariant).toBe(invariant)
  })

  test('every invariant has a one-line meaning', () => {
    for (const meaning of Object.values(INVARIANTS)) expect(meaning).toMatch(/^[a-z].{20,}[^.]$/)
  })
})
