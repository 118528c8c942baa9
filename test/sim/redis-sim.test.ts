/**
 * Node processes on the Redis coordinator in the simulator (issue 28): a past defect of the
 * Redis wing, re-introduced by its test-only switch, is caught within its stated number of
 * schedules, and the same schedules pass without it (the catch is the defect's, not the model's).
 */
import { describe, expect, test } from 'vitest'
import { REDIS_ZOO, runRedisSchedule, type RedisZoo } from './redis-world.js'

/** Schedules (seeds 1…n) within which each defect must be caught: about twice the seed of the first catch measured (docs/simulation.md). */
const BOUND: Record<RedisZoo, number> = {
  'lease-unchecked': 40,
}

describe('the Redis zoo: each defect caught within its bound', () => {
  test.each(Object.keys(REDIS_ZOO) as RedisZoo[])('%s is caught within its bound', { timeout: 300_000 }, async zoo => {
    let caught: string | undefined
    for (let seed = 1; seed <= BOUND[zoo] && !caught; seed++) {
      const violation = (await runRedisSchedule(seed, { zoo })).violations[0]
      if (!violation) continue
      caught = `seed ${seed} [${violation.invariant}]`
      expect((await runRedisSchedule(seed)).violations).toEqual([])
    }
    expect(caught, `${zoo} (${REDIS_ZOO[zoo]}) not caught in ${BOUND[zoo]} schedules`).toBeDefined()
    console.info(`redis zoo ${zoo}: caught at ${caught}`)
  })
})
