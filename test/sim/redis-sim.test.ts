/**
 * Node processes on the Redis coordinator in the simulator (issue 28): a past defect of the
 * Redis wing, re-introduced by its test-only switch, is caught within its stated number of
 * schedules, and the same schedules pass without it (the catch is the defect's, not the model's).
 */
import { describe, expect, test } from 'vitest'
import { REGRESSION_SEEDS_REDIS } from './findings.js'
import { Process } from './process.js'
import { SimRedis } from './redis-net.js'
import { OPEN_FINDINGS_REDIS, REDIS_ZOO, runRedisSchedule, type RedisZoo } from './redis-world.js'
import { Scheduler } from './scheduler.js'
import { ModelServer } from './server.js'
import { EPOCH } from './tab.js'

/** Schedules (seeds 1…n) within which each defect must be caught: about twice the seed of the first catch measured (docs/simulation.md). */
const BOUND: Record<RedisZoo, number> = {
  'lease-unchecked': 160,
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

/**
 * A finding of the first Redis model (seed 42, docs/simulation.md "Processes and Redis"): two
 * `start()`s in one process at once both read generation 0 and both wrote generation 1, each
 * with its own pair, so members that heard the first kept it under the same generation as the
 * second (it entered [1, 1]). Sync now writes what it read one at a time (src/core/sync.ts #writes).
 */
describe('two logins at once in one process', () => {
  test('the two start()s end on two generations (the later pair under the higher one)', { timeout: 60_000 }, async () => {
    const scheduler = new Scheduler(1)
    const redis = new SimRedis(scheduler)
    const server = new ModelServer(scheduler, EPOCH)
    const options = { rotation: 'request' as const, refreshTimeout: 5000, queueTimeout: 10_000, lease: 1000 }
    const first = new Process('p1', scheduler, redis, { ...options, fetch: server.fetchFor(() => true) })
    const member = new Process('p2', scheduler, redis, { ...options, fetch: server.fetchFor(() => true) })
    const generations: number[] = []
    first.session.on('change', () => void (first.session.state.status === 'active' && generations.push(first.session.state.generation)))
    const [older, later] = [server.login(), server.login()]
    const settled: unknown[] = []
    void first.session.start(older).then(() => settled.push('older'))
    await scheduler.step()
    void first.session.start(later).then(() => settled.push('later'))
    while (await scheduler.step(5000));
    expect(generations).toEqual([1, 2])
    expect(settled).toEqual(['older', 'later'])
    // Every member holds the later pair under generation 2: nothing of the older one is kept.
    for (const process of [first, member]) {
      expect(process.session.state).toMatchObject({ status: 'active', generation: 2 })
      await expect(process.session.accessToken()).resolves.toBe(later.accessToken)
    }
    first.session.dispose()
    member.session.dispose()
  })
})

describe('named Redis seeds', () => {
  test.each(REGRESSION_SEEDS_REDIS)('regression seed %i: every invariant holds', { timeout: 120_000 }, async seed => {
    const result = await runRedisSchedule(seed)
    expect(result.violations.map(v => `[${v.invariant}] ${v.detail} — npm run sim -- --seed ${seed} --schedules 1 --redis --trace`)).toEqual([])
  })

  test.each(Object.entries(OPEN_FINDINGS_REDIS))('open finding, seed %s: still breaks %s', { timeout: 120_000 }, async (seed, invariant) => {
    expect((await runRedisSchedule(Number(seed))).violations[0]?.invariant).toBe(invariant)
  })
})
