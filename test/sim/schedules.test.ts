/**
 * The simulator's volume in npm test (issue 28: ≥ 10,000 schedules in ≤ 3 min on 2 cores): the
 * CLI over two child processes, one per core (vitest runs one worker on this machine), in worlds
 * with Web Locks and, for a fifth of them, without (tabs elect a leader).
 */
import { afterAll, expect, test } from 'vitest'
import { OPEN_FINDINGS, OPEN_FINDINGS_NO_LOCKS } from './findings.js'
import type { InvariantName } from './invariants.js'
import { OPEN_FINDINGS_REDIS } from './redis-world.js'
import { OPEN_FINDINGS_WORKER } from './shared-worker.js'
import { removeBundle, simCli } from './run-cli.js'

/** How many schedules run (SIM_SCHEDULES overrides), from seed 1, over SIM_JOBS processes. */
const SCHEDULES = Number(process.env['SIM_SCHEDULES'] ?? 10_000)
const JOBS = Number(process.env['SIM_JOBS'] ?? 2)
/** The share of them in worlds without Web Locks (`--no-locks`, seeds 1…). */
const NO_LOCKS = Math.round(SCHEDULES / 5)
/** Worlds of Node processes on the Redis coordinator (`--redis`, seeds 1…): slower per schedule (lock polling), fewer. */
const REDIS = Number(process.env['SIM_REDIS_SCHEDULES'] ?? 500)
/** Worlds of tabs behind the rotation worker (`--worker`, seeds 1…). */
const WORKER = Number(process.env['SIM_WORKER_SCHEDULES'] ?? 300)
/** Worlds whose tabs keep a socket and an event stream open (`--sockets`, seeds 1…): about 8 s of the run. */
const SOCKETS = Number(process.env['SIM_SOCKETS_SCHEDULES'] ?? 40)

afterAll(removeBundle)

/** Runs `count` schedules from seed 1 and checks that only the open findings failed, each as listed. */
async function runRange(count: number, open: Record<number, InvariantName>, extra: string[]): Promise<void> {
  const run = await simCli(['--seed', '1', '--schedules', String(count), '--jobs', String(JOBS), '--progress', '2500', ...extra])
  // Each failure is a FAIL line and its replay command; the open findings must fail as listed.
  const failures = [...run.stdout.matchAll(/^FAIL (?:seed (-?\d+) \[([\w-]+)\])?.*\n.*$/gm)]
  const unexpected = failures.filter(([, seed, invariant]) => seed === undefined || open[Number(seed)] !== invariant).map(([lines]) => lines)
  const expected = Object.keys(open).filter(seed => Number(seed) < 1 + count)
  console.info(`sim ${extra.join(' ')}: ${count} schedules over ${JOBS} processes in ${run.seconds.toFixed(1)} s, ${(count / run.seconds).toFixed(1)}/s\n${run.stderr}`)
  expect(unexpected).toEqual([])
  expect(failures.map(([, seed]) => seed).sort()).toEqual(expected.sort())
  expect(run.code).toBe(expected.length > 0 ? 1 : 0)
  // The runs did something: refreshes happened and faults were drawn.
  const [, refreshes = '0', faults = '0'] = /(\d+) refreshes granted, (\d+) faults drawn/.exec(run.stdout) ?? []
  expect(Number(refreshes)).toBeGreaterThan(count)
  expect(Number(faults)).toBeGreaterThan(0)
  expect(run.stdout).toContain(`${count} schedules from seed 1: ${failures.length} failed`)
}

test(
  `${SCHEDULES - NO_LOCKS} schedules with Web Locks and ${NO_LOCKS} without, over ${JOBS} processes: every invariant holds after every step`,
  { timeout: 1_200_000 },
  async () => {
    await runRange(SCHEDULES - NO_LOCKS, OPEN_FINDINGS, [])
    await runRange(NO_LOCKS, OPEN_FINDINGS_NO_LOCKS, ['--no-locks'])
  },
)

test(`${REDIS} schedules of Node processes on the Redis coordinator, over ${JOBS} processes: every invariant holds after every step`, { timeout: 600_000 }, async () => {
  await runRange(REDIS, OPEN_FINDINGS_REDIS, ['--redis'])
})

test(`${SOCKETS} schedules of tabs with a socket and an event stream each, over ${JOBS} processes: every invariant holds after every step`, { timeout: 600_000 }, async () => {
  await runRange(SOCKETS, {}, ['--sockets'])
})

test(`${WORKER} schedules of tabs behind the rotation worker, over ${JOBS} processes: every invariant holds after every step`, { timeout: 600_000 }, async () => {
  await runRange(WORKER, OPEN_FINDINGS_WORKER, ['--worker'])
})
