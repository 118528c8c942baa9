/** The named seeds of the simulator's worker worlds (`--worker`, shared-worker.ts): each fixed one must pass, each open one must still fail as listed. */
import { describe, expect, test } from 'vitest'
import type { InvariantName } from './invariants.js'
import { runSchedule, type ScheduleOptions, type ScheduleResult } from './schedule.js'
import {
  OPEN_FINDINGS_WORKER,
  OPEN_FINDINGS_WORKER_NO_LOCKS,
  OPEN_FINDINGS_WORKER_EXTENDED,
  OPEN_FINDINGS_WORKER_NO_LOCKS_EXTENDED,
  REGRESSION_SEEDS_WORKER,
  REGRESSION_SEEDS_WORKER_EXTENDED,
  REGRESSION_SEEDS_WORKER_NO_LOCKS,
  REGRESSION_SEEDS_WORKER_NO_LOCKS_EXTENDED,
} from './shared-worker.js'

const replay = (result: ScheduleResult) => `npm run sim -- --seed ${result.seed} --schedules 1 --worker --trace`

/** Each worker world with its named seeds: where it is (in the tests' names), its options, and its flags for the replay line. */
const WORLDS: Array<{ where: string; options: ScheduleOptions; flags: string; regression: number[]; open: Record<number, InvariantName> }> = [
  { where: 'behind the rotation worker', options: { worker: true }, flags: '', regression: REGRESSION_SEEDS_WORKER, open: OPEN_FINDINGS_WORKER },
  {
    where: 'of the extended model behind the rotation worker',
    options: { worker: true, extended: true },
    flags: ' --extended',
    regression: REGRESSION_SEEDS_WORKER_EXTENDED,
    open: OPEN_FINDINGS_WORKER_EXTENDED,
  },
  {
    where: 'behind the rotation worker, without Web Locks',
    options: { worker: true, locks: false },
    flags: ' --no-locks',
    regression: REGRESSION_SEEDS_WORKER_NO_LOCKS,
    open: OPEN_FINDINGS_WORKER_NO_LOCKS,
  },
  {
    where: 'of the extended model behind the rotation worker, without Web Locks',
    options: { worker: true, extended: true, locks: false },
    flags: ' --extended --no-locks',
    regression: REGRESSION_SEEDS_WORKER_NO_LOCKS_EXTENDED,
    open: OPEN_FINDINGS_WORKER_NO_LOCKS_EXTENDED,
  },
]

describe('worker worlds: named seeds', () => {
  for (const { where, options, flags, regression, open } of WORLDS) {
    test.each(regression)(`regression seed %i ${where}: every invariant holds`, { timeout: 60_000 }, async seed => {
      const result = await runSchedule(seed, options)
      expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — ${replay(result)}${flags}`)).toEqual([])
    })

    test.each(Object.entries(open))(`open finding ${where}, seed %s: still breaks %s`, { timeout: 60_000 }, async (seed, invariant) => {
      const result = await runSchedule(Number(seed), options)
      expect(result.violations[0]?.invariant).toBe(invariant)
    })
  }
})
