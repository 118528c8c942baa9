/**
 * Sessions that share one token pair through the Redis coordinator, against a real
 * redis-server and the reference server, counted by the server: one refresh for many members,
 * Redis down or restarted, and a holder paused past its lease.
 */
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, test } from 'vitest'
import { createSession, isRotorError, type Session } from '../../src/index.js'
import { createRedisCoordinator, type RedisClientLike, type RedisCoordinator } from '../../src/redis/index.js'
import { HOLD } from '../../src/redis/scripts.js'
import { bearerLogin, flowingClock, record, sleep, startEnv, waitFor, type Env } from '../helpers/index.js'
import { CLIENTS, drop, type ClientFactory } from './clients.js'
import { redisMembers, until } from './members.js'
import { HAVE_REDIS } from './server.js'

describe.skipIf(!HAVE_REDIS).each(CLIENTS)('sessions sharing one pair through Redis ($label)', (factory: ClientFactory) => {
  const shared = redisMembers(factory)
  const { key, connect, member, members } = shared

  describe('sessions sharing one pair', () => {
    let env: Env
    afterEach(async () => {
      await env?.close()
    })

    function open(coordinator: RedisCoordinator, now?: () => number): Session {
      const session = createSession({
        scope: `${env.url}/api`,
        transport: 'bearer',
        refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
        logout: `${env.url}/bearer/logout`,
        rotation: 'request',
        coordinator,
        ...(now ? { now } : {}),
      })
      env.sessions.push(session)
      return session
    }

    test('4 members × 50 requests behind an expired AT → one refresh; all adopt; a logout reaches all', async () => {
      let t = Date.parse('2026-11-22T12:00:00Z')
      const now = () => t
      env = await startEnv({ accessTokenTtl: 10_000, now })
      const name = randomUUID()
      const sessions = [open(await member(name), now)]
      await sessions[0]!.start(await bearerLogin(env.url))
      for (let i = 0; i < 3; i++) sessions.push(open(await member(name), now))
      // The others join from the store, without a refresh.
      await waitFor(() => sessions.every(s => s.state.status === 'active'))
      expect(env.server.stats.refreshCalls).toBe(0)
      t += 10_001
      const responses = await Promise.all(sessions.flatMap(s => Array.from({ length: 50 }, (_, i) => s.fetch(`${env.url}/api/${i}`))))
      expect(responses.map(r => r.status)).toEqual(Array(200).fill(200))
      expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0, api401: 0, api200: 200 })
      await waitFor(() => sessions.every(s => s.state.generation === 2))
      const events = sessions.map(record)
      await sessions[2]!.logout()
      await waitFor(() => sessions.every(s => s.state.status === 'signed-out'))
      expect(events.map(e => e.of('logout').map(p => `${p['reason']} ${p['origin']}`))).toEqual([['user remote'], ['user remote'], ['user local'], ['user remote']])
    })

    test('Redis down: a request that needs a refresh waits queueTimeout, then RotationError; no refresh call, no logout; after Redis is back it goes', async () => {
      // Real time flows (queueTimeout is real ms), and the test can jump past the AT's expiry.
      const clock = flowingClock()
      const now = clock.now
      env = await startEnv({ accessTokenTtl: 10_000, now })
      const name = randomUUID()
      const session = createSession({
        scope: `${env.url}/api`,
        transport: 'bearer',
        rotation: 'request',
        queueTimeout: 1_500,
        // Redis comes back empty: nobody takes the lock for one lease (the quiet period).
        refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
        coordinator: await member(name, { lease: 300 }),
        now,
      })
      env.sessions.push(session)
      const events = record(session)
      await session.start(await bearerLogin(env.url))
      expect((await session.fetch(`${env.url}/api/a`)).status).toBe(200)
      await shared.redis.kill()
      try {
        // The AT is still usable: Redis is not needed.
        expect((await session.fetch(`${env.url}/api/b`)).status).toBe(200)
        clock.advance(10_001)
        await expect(session.fetch(`${env.url}/api/c`)).rejects.toMatchObject({ code: 'ERR_ROTATION' })
        expect(env.server.stats).toMatchObject({ refreshCalls: 0 })
        expect(session.state.status).toBe('active')
        expect(events.of('logout')).toEqual([])
      } finally {
        await shared.redis.start()
      }
      expect((await session.fetch(`${env.url}/api/d`)).status).toBe(200)
      expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0 })
    })

    test('a process that starts while Redis is down: its requests fail with RotationError at queueTimeout, none goes out without a token; once Redis is back it joins and they go', async () => {
      env = await startEnv({ accessTokenTtl: 60_000 })
      const name = randomUUID()
      // Another process logged in: the pair is in Redis (and in that process).
      const first = open(await member(name))
      await first.start(await bearerLogin(env.url))
      const client = await connect()
      await shared.redis.kill()
      let late: Session
      try {
        late = createSession({
          scope: `${env.url}/api`,
          transport: 'bearer',
          rotation: 'request',
          queueTimeout: 1_000,
          refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
          coordinator: createRedisCoordinator({ client, name, key }),
        })
        env.sessions.push(late)
        const settled = await Promise.race([
          late.fetch(`${env.url}/api/a`).then(
            () => 'sent',
            (error: unknown) => error,
          ),
          sleep(15_000).then(() => 'still waiting after 15 s'),
        ])
        expect(settled).toMatchObject({ code: 'ERR_ROTATION' })
        expect(isRotorError(settled)).toBe(true)
        expect(env.server.stats).toMatchObject({ api200: 0, api401: 0, refreshCalls: 0 })
      } finally {
        await shared.redis.start()
      }
      // Redis came back empty; the first process puts the pair back, the late one joins.
      await until(async () => late.state.status === 'active', 15_000)
      expect((await late.fetch(`${env.url}/api/b`)).status).toBe(200)
      expect(env.server.stats).toMatchObject({ api401: 0, refreshCalls: 0 })
    })

    test('Redis restarted while a refresh is on the wire: the holder takes its lock back, nobody presents the RT again', async () => {
      env = await startEnv({ accessTokenTtl: 60_000 })
      const name = randomUUID()
      const a = open(await member(name, { lease: 1500 }))
      await a.start(await bearerLogin(env.url))
      const b = open(await member(name, { lease: 1500 }))
      await waitFor(() => b.state.status === 'active')
      env.server.setLatency(1200)
      const rotating = a.rotate()
      await waitFor(() => env.server.stats.refreshCalls === 1)
      // Redis crashes and comes back empty while a's refresh is in flight; b wants to rotate too.
      await shared.redis.restart(100)
      const late = b.rotate()
      await Promise.all([rotating, late])
      env.server.setLatency(0)
      expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0 })
      await waitFor(() => b.state.generation === a.state.generation)
      expect((await b.fetch(`${env.url}/api/x`)).status).toBe(200)
      // The store was seeded again with the newest pair.
      expect(await (await member(name)).read()).toMatchObject({ generation: a.state.generation, status: 'active' })
    })

    test('a session paused past its lease right after its lease check, while another member rotates: it presents no spent RT (server: 0 reused), reports ERR_LEASE_LOST, adopts the new pair', async () => {
      env = await startEnv({ accessTokenTtl: 60_000 })
      const name = randomUUID()
      const lease = 1_000
      const probe = await connect()
      const realA = await connect()
      /** A's monotonic clock: it jumps when A "pauses" (time passes for A without a timer or reply running). */
      let skew = 0
      let armed = false
      /** A's bus, held back during the pause: a stopped process hears nothing either. */
      const held: Array<() => void> = []
      let holding = false
      let b!: Session // eslint-disable-line prefer-const -- assigned after the client that closes over it
      const client: RedisClientLike = {
        get: key => realA.get(key),
        publish: (channel, message) => realA.publish(channel, message),
        on: (event, listener) => realA.on(event, listener),
        off: (event, listener) => realA.off(event, listener),
        duplicate() {
          const sub = realA.duplicate()
          return {
            connect: () => sub.connect(),
            on: (event, listener) => sub.on(event, listener),
            destroy: () => drop(sub),
            subscribe: (channel, listener) =>
              sub.subscribe(channel, (message: string, from: string) => (holding ? held.push(() => listener(message, from)) : listener(message, from))),
          }
        },
        async eval(script, options) {
          const reply = await realA.eval(script, options)
          if (armed && script === HOLD) {
            // A renewed its lease and read the state (its lease check) and stops right here: its
            // lease runs out, B takes the lock and rotates, spending the RT A just read.
            armed = false
            holding = true
            await probe.del(`rotor:{${name}}:lock`)
            await b.rotate()
            skew += lease
          }
          return reply
        },
      }
      const coordinator = createRedisCoordinator({ client, name, key, lease, platform: { monotonic: () => performance.now() + skew } })
      members.push(coordinator)
      const a = createSession({ scope: `${env.url}/api`, transport: 'bearer', rotation: 'request', refresh: { url: `${env.url}/bearer/refresh`, style: 'json' }, coordinator })
      env.sessions.push(a)
      await a.start(await bearerLogin(env.url))
      b = open(await member(name, { lease }))
      await waitFor(() => b.state.status === 'active')
      const events = record(a)
      armed = true
      const failure = await a.rotate().then(
        () => 'rotated',
        (error: unknown) => error,
      )
      holding = false
      for (const deliver of held.splice(0)) deliver()
      expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0 })
      expect(failure).toMatchObject({ code: 'ERR_LEASE_LOST' })
      expect(events.of('rotate-error').map(e => [(e['error'] as { code?: string }).code, e['willRetry']])).toEqual([['ERR_LEASE_LOST', true]])
      await waitFor(() => a.state.generation === 2)
      expect(await a.accessToken()).toBe(await b.accessToken())
      expect(events.of('logout')).toEqual([])
    })
  })
})
