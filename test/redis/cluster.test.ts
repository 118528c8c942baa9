/**
 * The issue's "done when": child `node` processes, each a session on the Redis coordinator,
 * all acting for one user against the reference server over HTTP, and what the server counted.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createSession } from '../../src/index.js'
import { createRedisCoordinator } from '../../src/redis/index.js'
import { bearerLogin, startEnv, type Env } from '../helpers/index.js'
import { CLIENTS, drop, type ClientFactory } from './clients.js'
import { runCluster, runRounds, type Worker, type WorkerReport } from './cluster.js'
import { HAVE_REDIS, partitionableProxy, startRedis, type RedisServer } from './server.js'

const AT_MS = 1_000

/** Polls an asynchronous condition. */
async function until(condition: () => boolean | Promise<boolean>, timeout = 20_000): Promise<void> {
  const deadline = performance.now() + timeout
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`until: still false after ${timeout} ms: ${condition.toString()}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const sum = (reports: WorkerReport[], field: 'sent' | 'ok' | 'failed' | 'rotatedHere') => reports.reduce((n, r) => n + r[field], 0)

/**
 * The multi-process traffic runs on node-redis 6 only. On 4 too it doubled this file's time
 * (5.6 min of a 20 min CI budget on 2 cores, its 8-process runs failing under that load)
 * without reaching a client call the coordinator tests leave out: those run every call the
 * coordinator makes (eval, get, publish, duplicate and subscribe, reconnects, Redis down and
 * restarted) on both majors (clients.ts). The join race stays on both: whether a late
 * subscription misses a login is decided by the client's subscribe, which differs by major.
 */
const traffic = (factory: ClientFactory) => test.runIf(factory.package === 'redis')

describe.skipIf(!HAVE_REDIS).each(CLIENTS)('worker processes sharing one pair through Redis ($label)', (factory: ClientFactory) => {
  const client = factory.package
  /**
   * Logs the user in once, through a coordinator of the name: the pair lands (sealed) in Redis
   * and every worker joins from there.
   */
  async function login(env: Env, redis: RedisServer, name: string, key: string): Promise<void> {
    const redisClient = factory.create(redis.url)
    redisClient.on('error', () => undefined)
    await redisClient.connect()
    const session = createSession({ scope: `${env.url}/api`, transport: 'bearer', coordinator: createRedisCoordinator({ client: redisClient, name, key }) })
    await session.start(await bearerLogin(env.url))
    session.dispose()
    drop(redisClient)
  }

  let redis: RedisServer
  let env: Env
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await env?.close()
    await redis?.stop()
  })

  traffic(factory)(
    '8 processes × 20 s of traffic, AT 1 s: 0 reused RTs, 0 failed requests, refreshes within 1.3× the minimum',
    async () => {
      env = await startEnv({ accessTokenTtl: AT_MS, refreshTokenTtl: 3_600_000 })
      const name = randomUUID()
      const key = randomBytes(32).toString('base64')
      await login(env, redis, name, key)
      env.server.resetStats()
      const duration = 20_000
      const { reports, trafficMs } = await runCluster({ workers: 8, auth: env.url, redis: redis.url, name, key, duration, client })
      // One AT serves at most AT_MS of traffic, and the login's had expired before the traffic
      // began (request mode: nothing rotates while no request is made), so every AT the traffic
      // used came from a refresh: at least duration / AT_MS of them.
      const minimum = Math.ceil(duration / AT_MS)
      const stats = env.server.stats
      console.log(
        `8 workers, ${Math.round(trafficMs)} ms: ${sum(reports, 'sent')} requests, refresh calls ${stats.refreshCalls} (minimum ${minimum}, ${(stats.refreshCalls / minimum).toFixed(2)}×), reused ${stats.reusedRefused}, API 401s ${stats.api401}, errors ${JSON.stringify(reports.map(r => r.errors))}`,
      )
      expect(reports).toHaveLength(8)
      expect(stats.reusedRefused).toBe(0)
      expect(sum(reports, 'failed')).toBe(0)
      expect(reports.every(r => r.logouts.length === 0)).toBe(true)
      expect(sum(reports, 'ok')).toBe(sum(reports, 'sent'))
      expect(stats.refreshCalls).toBe(stats.refreshGranted)
      expect(stats.refreshCalls).toBeGreaterThanOrEqual(minimum)
      expect(stats.refreshCalls).toBeLessThanOrEqual(1.3 * minimum)
      // The refreshes were shared out: one process did not do them all for the others.
      expect(sum(reports, 'rotatedHere')).toBe(stats.refreshGranted)
      expect(reports.filter(r => r.rotatedHere > 0).length).toBeGreaterThan(1)
    },
    90_000,
  )

  traffic(factory)(
    'Redis crashes and restarts empty mid-run (8 processes): no logout, no reused RT, every request settles',
    async () => {
      env = await startEnv({ accessTokenTtl: AT_MS, refreshTokenTtl: 3_600_000 })
      const name = randomUUID()
      const key = randomBytes(32).toString('base64')
      await login(env, redis, name, key)
      env.server.resetStats()
      let restartedAt = 0
      const { reports } = await runCluster({
        workers: 8,
        auth: env.url,
        redis: redis.url,
        name,
        key,
        duration: 7_000,
        lease: 2_000,
        client,
        during: async () => {
          await new Promise(resolve => setTimeout(resolve, 3_000))
          restartedAt = Date.now()
          await redis.restart(300)
        },
      })
      const stats = env.server.stats
      const after = env.server.log.filter(e => e.route === 'refresh' && e.at > restartedAt)
      console.log(
        `restart: ${sum(reports, 'sent')} requests, refresh calls ${stats.refreshCalls} (${after.length} after the restart), reused ${stats.reusedRefused}, API 401s ${stats.api401}, errors ${JSON.stringify(reports.map(r => r.errors))}, statuses ${JSON.stringify(reports.map(r => r.statuses))}, rotate-errors ${JSON.stringify(reports.map(r => r.rotateErrors))}`,
      )
      expect(reports).toHaveLength(8)
      expect(stats.reusedRefused).toBe(0)
      expect(stats.refreshCalls).toBe(stats.refreshGranted)
      // Rotation went on after Redis came back (the traffic outlived several ATs).
      expect(after.length).toBeGreaterThan(0)
      expect(reports.flatMap(r => r.logouts)).toEqual([])
      expect(sum(reports, 'failed')).toBe(0)
      expect(sum(reports, 'ok')).toBe(sum(reports, 'sent'))
    },
    90_000,
  )

  /**
   * Kills the worker that holds the lock once its refresh is on the wire. `accepted`: the
   * server had already rotated (the answer died with the process), else it had not.
   */
  async function killHolderMidRefresh(accepted: boolean) {
    env = await startEnv({ accessTokenTtl: AT_MS, refreshTokenTtl: 3_600_000 })
    const name = randomUUID()
    const key = randomBytes(32).toString('base64')
    const lease = 2_000
    await login(env, redis, name, key)
    env.server.resetStats()
    const probe = factory.create(redis.url)
    probe.on('error', () => undefined)
    await probe.connect()
    let killed: Worker | undefined
    let killedAt = 0
    try {
      const run = await runCluster({
        workers: 4,
        auth: env.url,
        redis: redis.url,
        name,
        key,
        duration: 8_000,
        lease,
        queueTimeout: 30_000,
        client,
        during: async workers => {
          await new Promise(resolve => setTimeout(resolve, 2_000))
          env.server.fault('refresh', accepted ? { hang: true, afterProcessing: true } : { hang: true })
          await until(() => env.server.log.some(e => e.route === 'refresh' && e.fault === 'hang'))
          const holder = (await probe.get(`rotor:{${name}}:lock`)) ?? ''
          killed = workers.find(w => w.id !== '' && holder.startsWith(`${w.id}:`))
          expect(killed, `lock holder ${holder}`).toBeDefined()
          killed!.child.kill('SIGKILL')
          killedAt = Date.now()
          await killed!.exited
        },
      })
      env.server.releaseHung()
      return { ...run, killed: killed!, killedAt, lease }
    } finally {
      drop(probe)
    }
  }

  traffic(factory)(
    'the lock holder SIGKILLed mid-refresh (not yet accepted): the others continue within the lease plus one refresh',
    async () => {
      const { reports, killed, killedAt, lease } = await killHolderMidRefresh(false)
      const stats = env.server.stats
      const next = env.server.log.find(e => e.route === 'refresh' && e.at > killedAt && e.status === 201)
      const gap = next ? next.at - killedAt : Number.NaN
      console.log(`kill: next refresh ${gap} ms after the kill (lease ${lease}); refresh calls ${stats.refreshCalls}, reused ${stats.reusedRefused}`)
      expect(killed.report).toBeUndefined()
      expect(reports).toHaveLength(3)
      expect(stats.reusedRefused).toBe(0)
      // Nobody entered while the dead holder's lease could still run (renewed every third of it)…
      expect(gap).toBeGreaterThanOrEqual((lease * 2) / 3 - 50)
      // …and the next holder went on once it ran out: a lease, a poll (≤ 250 ms) and one refresh,
      // which a loaded machine stretches (3,026 ms against a 2,000 ms lease once in CI): the bound
      // says "after the lease, not never", not how fast.
      expect(gap).toBeLessThanOrEqual(lease + 5_000)
      expect(reports.flatMap(r => r.logouts)).toEqual([])
      expect(sum(reports, 'failed')).toBe(0)
      expect(sum(reports, 'ok')).toBe(sum(reports, 'sent'))
    },
    90_000,
  )

  traffic(factory)(
    'the lock holder SIGKILLed after the server accepted its refresh: the pair died with it; one reused RT, every process ends rejected, every request settles',
    async () => {
      const { reports, killedAt } = await killHolderMidRefresh(true)
      const stats = env.server.stats
      const after = env.server.log.filter(e => e.route === 'refresh' && e.at > killedAt)
      console.log(`kill (accepted): refresh log after the kill ${JSON.stringify(after.map(e => e.status))}, reused ${stats.reusedRefused}`)
      expect(reports).toHaveLength(3)
      // The next holder presents the stored RT (the only one anyone has); the server refuses it
      // as reused, and the end is recorded under the lock: nobody presents it a third time.
      expect(stats.reusedRefused).toBe(1)
      expect(after).toHaveLength(1)
      expect(reports.every(r => r.logouts.length === 1 && r.logouts[0]!.startsWith('rejected'))).toBe(true)
      // Every request settled: with its answer before, SessionExpiredError after.
      expect(reports.every(r => r.ok + r.failed === r.sent)).toBe(true)
      expect(reports.every(r => Object.keys(r.errors).every(name => name === 'SessionExpiredError'))).toBe(true)
    },
    90_000,
  )

  traffic(factory)(
    'one process partitioned from Redis for 1.5 leases, while the others rotate: no logout, no reused RT, every request settles',
    async () => {
      env = await startEnv({ accessTokenTtl: AT_MS, refreshTokenTtl: 3_600_000 })
      const name = randomUUID()
      const key = randomBytes(32).toString('base64')
      const lease = 2_000
      await login(env, redis, name, key)
      env.server.resetStats()
      const proxy = await partitionableProxy(redis.port)
      let healedAt = 0
      try {
        const { reports } = await runCluster({
          workers: 4,
          auth: env.url,
          redis: redis.url,
          name,
          key,
          duration: 7_000,
          lease,
          client,
          // Worker 0 reaches Redis through the proxy: both its connections (commands, pub/sub) go down.
          redisFor: i => (i === 0 ? proxy.url : redis.url),
          during: async () => {
            await new Promise(resolve => setTimeout(resolve, 2_000))
            proxy.cut()
            await new Promise(resolve => setTimeout(resolve, lease * 1.5))
            proxy.heal()
            healedAt = Date.now()
          },
        })
        const stats = env.server.stats
        console.log(
          `partition: ${reports.map(r => r.sent).join('/')} requests per worker (worker 0 partitioned), refresh calls ${stats.refreshCalls}, reused ${stats.reusedRefused}, errors ${JSON.stringify(reports.map(r => r.errors))}`,
        )
        expect(reports).toHaveLength(4)
        expect(stats.reusedRefused).toBe(0)
        expect(stats.refreshCalls).toBe(stats.refreshGranted)
        expect(reports.flatMap(r => r.logouts)).toEqual([])
        expect(sum(reports, 'failed')).toBe(0)
        expect(sum(reports, 'ok')).toBe(sum(reports, 'sent'))
        // The partitioned worker came back and went on after the partition healed.
        expect(env.server.log.some(e => e.route === 'api' && e.at > healedAt + 1_000)).toBe(true)
        expect(reports[0]!.sent).toBeGreaterThan(0)
        expect(reports[0]!.ok).toBe(reports[0]!.sent)
      } finally {
        await proxy.close()
      }
    },
    90_000,
  )
  test('a process joins just as another logs in, 20 rounds: every request the joiner sends carries a token (server count), nobody stays signed out', async () => {
    env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
    const key = randomBytes(32).toString('base64')
    const rounds = []
    for (let i = 0; i < 20; i++) rounds.push({ name: randomUUID(), grant: await (await bearerLogin(env.url)).json() })
    env.server.resetStats()
    const requests = 5
    // The joiner's new connections take 100 ms to reach Redis (a slow handshake): its
    // subscription is up well after the login's write, which lands after its first read.
    const slow = await partitionableProxy(redis.port, { connectDelayMs: 100 })
    let results
    try {
      results = await runRounds({ auth: env.url, redis: redis.url, joinRedis: slow.url, key, pause: 10, requests, client }, rounds)
    } finally {
      await slow.close()
    }
    const stats = env.server.stats
    const missed = results.filter(r => r.join.status !== 'active').length
    console.log(
      `join race: ${missed} of ${rounds.length} joiners signed out; API 200 ${stats.api200}, 401 ${stats.api401}; joiner statuses ${JSON.stringify(results.map(r => r.join.statuses))}`,
    )
    expect(results).toHaveLength(20)
    expect(missed).toBe(0)
    expect(stats.api401).toBe(0)
    expect(stats.api200).toBe(rounds.length * requests * 2)
    expect(stats.refreshCalls).toBe(0)
  }, 120_000)

  traffic(factory)(
    'the lock holder paused (SIGSTOP) right after its lease check, past its lease, while another process rotates: 0 reused RTs, nobody ends rejected',
    async () => {
      env = await startEnv({ accessTokenTtl: AT_MS, refreshTokenTtl: 3_600_000 })
      const name = randomUUID()
      const key = randomBytes(32).toString('base64')
      const lease = 2_000
      await login(env, redis, name, key)
      env.server.resetStats()
      let stoppedAt = 0
      let resumedAt = 0
      const { reports } = await runCluster({
        workers: 3,
        auth: env.url,
        redis: redis.url,
        name,
        key,
        duration: 9_000,
        lease,
        client,
        configFor: i => (i === 0 ? { stopBeforeRefresh: true } : {}),
        during: async workers => {
          const paused = workers[0]!
          await Promise.race([paused.stopped, new Promise((_, reject) => setTimeout(() => reject(new Error('worker 0 never held a rotation lock')), 8_000).unref())])
          stoppedAt = Date.now()
          try {
            // Its lease runs out; another process takes the lock and rotates, spending the RT
            // the paused one read.
            await until(() => env.server.log.some(e => e.route === 'refresh' && e.status === 201 && e.at > stoppedAt + lease), lease + 20_000)
          } finally {
            paused.child.kill('SIGCONT')
            resumedAt = Date.now()
          }
        },
      })
      const stats = env.server.stats
      const after = env.server.log.filter(e => e.route === 'refresh' && e.at >= resumedAt)
      console.log(
        `SIGSTOP: stopped ${resumedAt - stoppedAt} ms; refresh calls ${stats.refreshCalls} (${after.length} after the resume), reused ${stats.reusedRefused}; requests ${reports.map(r => `${r.ok}/${r.sent}`).join(' ')}; errors ${JSON.stringify(reports.map(r => r.errors))}`,
      )
      expect(reports).toHaveLength(3)
      expect(stats.reusedRefused).toBe(0)
      expect(stats.refreshCalls).toBe(stats.refreshGranted)
      expect(reports.flatMap(r => r.logouts)).toEqual([])
      // The paused process went on after it resumed: its requests were answered.
      expect(reports[0]!.ok).toBeGreaterThan(0)
      expect(env.server.log.some(e => e.route === 'api' && e.status === 200 && e.at > resumedAt + 1_000)).toBe(true)
    },
    120_000,
  )
})
