/**
 * The deterministic simulator (issue 28) in npm test: real sessions on virtual tabs, one seed
 * deciding every timer, message, lock grant, network outcome and fault (test/sim/, docs/simulation.md).
 * Its 10,000 schedules run in schedules.test.ts, its replays in replay.test.ts; here the zoo and the named seeds.
 */
import { describe, expect, test } from 'vitest'
import {
  OPEN_FINDINGS,
  OPEN_FINDINGS_EXTENDED_NO_LOCKS,
  OPEN_FINDINGS_NO_LOCKS,
  REGRESSION_SEEDS,
  REGRESSION_SEEDS_EXTENDED,
  REGRESSION_SEEDS_EXTENDED_NO_LOCKS,
  REGRESSION_SEEDS_NO_LOCKS,
} from './findings.js'
import { INVARIANTS } from './invariants.js'
import { runSchedule, ZOO, type ScheduleResult } from './schedule.js'

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

  test.each(REGRESSION_SEEDS_NO_LOCKS)('regression seed %i without Web Locks: every invariant holds', async seed => {
    const result = await runSchedule(seed, { locks: false })
    expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)} --no-locks`)).toEqual([])
  })

  test.each(REGRESSION_SEEDS_EXTENDED)('regression seed %i of the extended model: every invariant holds', async seed => {
    const result = await runSchedule(seed, { extended: true })
    expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)} --extended`)).toEqual([])
  })

  test.each(REGRESSION_SEEDS_EXTENDED_NO_LOCKS)('regression seed %i of the extended model without Web Locks: every invariant holds', async seed => {
    const result = await runSchedule(seed, { extended: true, locks: false })
    expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)} --extended --no-locks`)).toEqual([])
  })

  test.each(Object.entries(OPEN_FINDINGS))('open finding, seed %s: still breaks %s', async (seed, invariant) => {
    const result = await runSchedule(Number(seed))
    expect(result.violations[0]?.invariant).toBe(invariant)
  })

  test.each(Object.entries(OPEN_FINDINGS_NO_LOCKS))('open finding without Web Locks, seed %s: still breaks %s', { timeout: 60_000 }, async (seed, invariant) => {
    const result = await runSchedule(Number(seed), { locks: false })
    expect(result.violations[0]?.invariant).toBe(invariant)
  })

  test.each(Object.entries(OPEN_FINDINGS_EXTENDED_NO_LOCKS))('open finding of the extended model without Web Locks, seed %s: still breaks %s', async (seed, invariant) => {
    const result = await runSchedule(Number(seed), { extended: true, locks: false })
    expect(result.violations[0]?.invariant).toBe(invariant)
  })

  test('every invariant has a one-line meaning', () => {
    for (const meaning of Object.values(INVARIANTS)) expect(meaning).toMatch(/^[a-z].{20,}[^.]$/)
  })
})
