/** The named seeds of the simulator's worker worlds (`--worker`, shared-worker.ts): each fixed one must pass, each open one must still fail as listed. */
import { describe, expect, test } from 'vitest'
import { runSchedule, type ScheduleResult } from './schedule.js'
import {
  OPEN_FINDINGS_WORKER,
  OPEN_FINDINGS_WORKER_EXTENDED,
  OPEN_FINDINGS_WORKER_NO_LOCKS_EXTENDED,
  REGRESSION_SEEDS_WORKER,
  REGRESSION_SEEDS_WORKER_EXTENDED,
  REGRESSION_SEEDS_WORKER_NO_LOCKS,
  REGRESSION_SEEDS_WORKER_NO_LOCKS_EXTENDED,
} from './shared-worker.js'

const replay = (result: ScheduleResult) => `npm run sim -- --seed ${result.seed} --schedules 1 --worker --trace`

describe('worker worlds: named seeds', () => {
  test.each(REGRESSION_SEEDS_WORKER)('regression seed %i behind the rotation worker: every invariant holds', { timeout: 60_000 }, async seed => {
    const result = await runSchedule(seed, { worker: true })
    expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)}`)).toEqual([])
  })

  test.each(REGRESSION_SEEDS_WORKER_EXTENDED)(
    'regression seed %i of the extended model behind the rotation worker: every invariant holds',
    { timeout: 60_000 },
    async seed => {
      const result = await runSchedule(seed, { worker: true, extended: true })
      expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)} --extended`)).toEqual([])
    },
  )

  test.each(REGRESSION_SEEDS_WORKER_NO_LOCKS_EXTENDED)(
    'regression seed %i of the extended model behind the rotation worker, without Web Locks: every invariant holds',
    { timeout: 60_000 },
    async seed => {
      const result = await runSchedule(seed, { worker: true, extended: true, locks: false })
      expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)} --extended --no-locks`)).toEqual([])
    },
  )

  test.each(Object.entries(OPEN_FINDINGS_WORKER))('open finding behind the rotation worker, seed %s: still breaks %s', { timeout: 60_000 }, async (seed, invariant) => {
    const result = await runSchedule(Number(seed), { worker: true })
    expect(result.violations[0]?.invariant).toBe(invariant)
  })

  test.each(Object.entries(OPEN_FINDINGS_WORKER_EXTENDED))(
    'open finding of the extended model behind the rotation worker, seed %s: still breaks %s',
    { timeout: 60_000 },
    async (seed, invariant) => {
      const result = await runSchedule(Number(seed), { worker: true, extended: true })
      expect(result.violations[0]?.invariant).toBe(invariant)
    },
  )

  test.each(REGRESSION_SEEDS_WORKER_NO_LOCKS)('regression seed %i behind the rotation worker, without Web Locks: every invariant holds', { timeout: 60_000 }, async seed => {
    const result = await runSchedule(seed, { worker: true, locks: false })
    expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)} --no-locks`)).toEqual([])
  })

  test.each(Object.entries(OPEN_FINDINGS_WORKER_NO_LOCKS_EXTENDED))(
    'open finding of the extended model behind the rotation worker without Web Locks, seed %s: still breaks %s',
    { timeout: 60_000 },
    async (seed, invariant) => {
      const result = await runSchedule(Number(seed), { worker: true, extended: true, locks: false })
      expect(result.violations[0]?.invariant).toBe(invariant)
    },
  )
})
