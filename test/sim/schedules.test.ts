/**
 * The simulator's volume in npm test (issue 28: ≥ 10,000 schedules in ≤ 3 min on 2 cores): the
 * CLI over two child processes, one per core (vitest runs one worker on this machine).
 */
import { afterAll, expect, test } from 'vitest'
import { OPEN_FINDINGS } from './findings.js'
import { removeBundle, simCli } from './run-cli.js'

/** How many schedules run (SIM_SCHEDULES overrides), from seed 1, over SIM_JOBS processes. */
const SCHEDULES = Number(process.env['SIM_SCHEDULES'] ?? 10_000)
const JOBS = Number(process.env['SIM_JOBS'] ?? 2)

afterAll(removeBundle)

test(`${SCHEDULES} schedules over ${JOBS} processes: every invariant holds after every step`, { timeout: 1_200_000 }, async () => {
  const run = await simCli(['--seed', '1', '--schedules', String(SCHEDULES), '--jobs', String(JOBS), '--progress', '2500'])
  // Each failure is a FAIL line and its replay command; the open findings must fail as listed.
  const failures = [...run.stdout.matchAll(/^FAIL (?:seed (-?\d+) \[([\w-]+)\])?.*\n.*$/gm)]
  const unexpected = failures.filter(([, seed, invariant]) => seed === undefined || OPEN_FINDINGS[Number(seed)] !== invariant).map(([lines]) => lines)
  const open = Object.keys(OPEN_FINDINGS).filter(seed => Number(seed) < 1 + SCHEDULES)
  console.info(`sim: ${SCHEDULES} schedules over ${JOBS} processes in ${run.seconds.toFixed(1)} s, ${(SCHEDULES / run.seconds).toFixed(1)}/s\n${run.stderr}`)
  expect(unexpected).toEqual([])
  expect(failures.map(([, seed]) => seed).sort()).toEqual(open.sort())
  expect(run.code).toBe(open.length > 0 ? 1 : 0)
  // The runs did something: refreshes happened and faults were drawn.
  const [, refreshes = '0', faults = '0'] = /(\d+) refreshes granted, (\d+) faults drawn/.exec(run.stdout) ?? []
  expect(Number(refreshes)).toBeGreaterThan(SCHEDULES)
  expect(Number(faults)).toBeGreaterThan(0)
  expect(run.stdout).toContain(`${SCHEDULES} schedules from seed 1: ${failures.length} failed`)
})
