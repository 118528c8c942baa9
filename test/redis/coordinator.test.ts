/**
 * The Redis coordinator against a real redis-server, in one process: each member on a client
 * of its own, as separate processes would be. Options, the lock (exclusive, renewed, expired
 * when its holder dies, fenced), what Redis holds (sealed), and sessions that share one pair
 * through it, counted by the reference server.
 */
import { createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { Snapshot } from '../../src/coordinator/types.js'
import { createSession, isRotorError, type Session } from '../../src/index.js'
import { createRedisCoordinator, type RedisClientLike, type RedisCoordinator, type RedisStateError } from '../../src/redis/index.js'
import { HOLD } from '../../src/redis/scripts.js'
import { bearerLogin, flowingClock, record, sleep, startEnv, waitFor, type Env } from '../helpers/index.js'
import { CLIENTS, drop, type ClientFactory, type TestClient as Client } from './clients.js'
import { HAVE_REDIS, startRedis, type RedisServer } from './server.js'

/** Polls an asynchronous condition (waitFor takes synchronous ones). */
async function until(condition: () => Promise<boolean>, timeout = 5_000): Promise<void> {
  const deadline = performance.now() + timeout
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`until: still false after ${timeout} ms: ${condition.toString()}`)
    await sleep(20)
  }
}

describe.skipIf(!HAVE_REDIS).each(CLIENTS)('createRedisCoordinator ($label)', (factory: ClientFactory) => {
  const newClient = (url: string) => factory.create(url, { reconnectStrategy: () => 50 })
  let redis: RedisServer
  const clients: Client[] = []
  const members: RedisCoordinator[] = []
  const key = randomBytes(32)

  async function connect(): Promise<Client> {
    const client = newClient(redis.url)
    client.on('error', () => undefined)
    await client.connect()
    clients.push(client)
    return client
  }

  async function member(name: string, options: { lease?: number; tokens?: 'omit' } = {}): Promise<RedisCoordinator> {
    const client = await connect()
    const coordinator = createRedisCoordinator({ client, name, ...(options.tokens ? { tokens: options.tokens } : { key }), ...(options.lease ? { lease: options.lease } : {}) })
    members.push(coordinator)
    return coordinator
  }

  /**
   * Waits until `waiting` are subscribed to the name's channel: Redis counts the subscriptions,
   * and each member's read waits until its client has seen its own.
   */
  async function subscribed(name: string, ...waiting: RedisCoordinator[]): Promise<void> {
    const probe = await connect()
    const count = async () => Number(((await probe.sendCommand(['PUBSUB', 'NUMSUB', `rotor:{${name}}:bus`])) as unknown[])[1])
    await until(async () => (await count()) >= waiting.length)
    await Promise.all(waiting.map(m => m.read()))
  }

  beforeAll(async () => {
    redis = await startRedis()
  })
  afterEach(() => {
    for (const m of members.splice(0)) m.close()
  })
  afterAll(async () => {
    for (const c of clients.splice(0)) drop(c)
    await redis?.stop()
  })

  describe('options', () => {
    test('bad input is a TypeError naming the option', async () => {
      const client = await connect()
      const make = (options: Record<string, unknown>) => () => createRedisCoordinator(options as never)
      expect(make({ client, name: 'x' })).toThrow(/`key` is required/)
      expect(make({ client, name: 'x', key: randomBytes(16) })).toThrow(/`key` must be 32 bytes.*16 bytes/)
      expect(make({ client, name: 'x', key: 'not base64!' })).toThrow(TypeError)
      expect(make({ client, name: 'x', key: randomBytes(31).toString('base64') })).toThrow(/`key`/)
      expect(make({ client, name: 'x', key, tokens: 'omit' })).toThrow(/`key` must be absent/)
      expect(make({ client, name: 'x', tokens: 'plain' })).toThrow(/`tokens`/)
      expect(make({ client, name: '', key })).toThrow(/`name`/)
      expect(make({ client, name: 'a{b}', key })).toThrow(/`name`/)
      expect(make({ client: {}, name: 'x', key })).toThrow(/`client`.*missing eval/)
      expect(make({ client, name: 'x', key, lease: 0 })).toThrow(/`lease`/)
      expect(make({ client, name: 'x', key, leese: 100 })).toThrow(/unknown option `leese`/)
      expect(make({ client, name: 'x', key, platform: 5 })).toThrow(/`platform`/)
      // A list of keys (newest first): each checked, named by its index.
      expect(make({ client, name: 'x', key: [] })).toThrow(/`key`/)
      expect(make({ client, name: 'x', key: [key, randomBytes(16)] })).toThrow(/`key\[1\]` must be 32 bytes/)
      // A base64 key of the right length is fine; the caller's buffer is copied.
      createRedisCoordinator({ client, name: 'x', key: key.toString('base64') }).close()
      const listed = createRedisCoordinator({ client, name: 'x', key: [randomBytes(32), key.toString('base64')] })
      expect(() => listed.on('eror' as never, () => undefined)).toThrow(/unknown event `eror`/)
      expect(() => listed.on('error', 'log' as never)).toThrow(TypeError)
      listed.close()
    })
  })

  describe('the lock', () => {
    test('at most one holder across members; fencing tokens grow by one per grant', async () => {
      const name = randomUUID()
      const all = await Promise.all(Array.from({ length: 5 }, () => member(name)))
      let inside = 0
      let most = 0
      let entries = 0
      await Promise.all(
        all.flatMap(m =>
          Array.from({ length: 4 }, () =>
            m.lock(async () => {
              most = Math.max(most, ++inside)
              entries++
              await sleep(5)
              inside--
            }),
          ),
        ),
      )
      expect(entries).toBe(20)
      expect(most).toBe(1)
      const probe = await connect()
      expect(await probe.get(`rotor:{${name}}:fence`)).toBe('20')
      expect(await probe.exists(`rotor:{${name}}:lock`)).toBe(0)
    })

    test('the lease is renewed while the holder runs: a slow holder (4 leases) keeps the lock', async () => {
      const name = randomUUID()
      const [a, b] = [await member(name, { lease: 300 }), await member(name, { lease: 300 })]
      const order: string[] = []
      let release!: () => void
      const first = a.lock(async () => {
        order.push('a in')
        await new Promise<void>(resolve => (release = resolve))
        order.push('a out')
      })
      await waitFor(() => order.length === 1)
      const second = b.lock(async () => void order.push('b in'))
      await sleep(1200)
      expect(order).toEqual(['a in'])
      release()
      await Promise.all([first, second])
      expect(order).toEqual(['a in', 'a out', 'b in'])
    })

    test('a holder that dies (its connection gone, never released) blocks the others for one lease, no longer', async () => {
      const name = randomUUID()
      const doomedClient = await connect()
      const doomed = createRedisCoordinator({ client: doomedClient, name, key, lease: 600 })
      let entered = false
      void doomed.lock(async () => {
        entered = true
        await new Promise(() => undefined)
      }).catch(() => undefined)
      await waitFor(() => entered)
      // Killed: no release, no renewal (its client is gone; its timers die with the process).
      drop(doomedClient)
      doomed.close()
      const other = await member(name, { lease: 600 })
      const t0 = performance.now()
      await other.lock(async () => undefined)
      const waited = performance.now() - t0
      // Nobody entered while the dead holder's lease ran.
      expect(waited).toBeGreaterThan(300)
    })

    test('a holder whose lock was taken over is told by its lease (the renewal in its read found it), and cannot release the other\'s lock', async () => {
      const name = randomUUID()
      const a = await member(name)
      const probe = await connect()
      const seen: boolean[] = []
      await a.lock(async lease => {
        seen.push(lease!.held())
        // Another member got the lock (a lease that ran out during a partition).
        await probe.set(`rotor:{${name}}:lock`, 'someone-else:99', { PX: 10_000 })
        await a.read()
        seen.push(lease!.held())
        // Announcing is no longer where the lease is enforced: the rotator asks the lease.
        a.post({ type: 'rotating', generation: 1 })
      })
      expect(seen).toEqual([true, false])
      // Its release did not delete the other holder's lock (compare-and-delete).
      expect(await probe.get(`rotor:{${name}}:lock`)).toBe('someone-else:99')
    })

    test('close() rejects a member waiting for the lock and releases its connections', async () => {
      const name = randomUUID()
      const probe = await connect()
      const before = (await probe.sendCommand(['CLIENT', 'LIST'])) as string
      const a = await member(name)
      const b = await member(name)
      let release!: () => void
      const holding = a.lock(() => new Promise<void>(resolve => (release = resolve)))
      await waitFor(() => release !== undefined)
      const waiting = b.lock(async () => 'never')
      b.close()
      await expect(waiting).rejects.toThrow(/closed/)
      release()
      await holding
      a.close()
      // Each member's own pub/sub connection is gone (the callers' clients are theirs).
      const count = async () => ((await probe.sendCommand(['CLIENT', 'LIST'])) as string).split('\n').filter(Boolean).length
      const baseline = before.split('\n').filter(Boolean).length
      await until(async () => (await count()) === baseline + 2)
    })
  })

  describe('the store and the channel', () => {
    test('tokens are sealed at rest and on the wire; another key or an edited generation reads nothing', async () => {
      const name = randomUUID()
      const env = await startEnv({ accessTokenTtl: 60_000 })
      try {
        const a = await member(name)
        const probe = await connect()
        const sub = probe.duplicate()
        sub.on('error', () => undefined)
        await sub.connect()
        const wire: string[] = []
        await sub.subscribe(`rotor:{${name}}:bus`, m => void wire.push(m))
        const session = createSession({ scope: `${env.url}/api`, transport: 'bearer', refresh: { url: `${env.url}/bearer/refresh`, style: 'json' }, coordinator: a })
        env.sessions.push(session)
        const login = await (await bearerLogin(env.url)).json()
        await session.start(login)
        const at = await session.accessToken()
        const raw = (await probe.get(`rotor:{${name}}:state`))!
        expect(raw).not.toContain(at)
        expect(raw).not.toContain(login.refreshToken)
        // Nothing readable outside the seal, generation and status included.
        expect(JSON.parse(raw)).toEqual({ rotor: 'redis', v: 2, sealed: expect.any(String) })
        await waitFor(() => wire.length > 0)
        expect(wire.join('\n')).not.toContain(at)
        await sub.quit()

        const same = await member(name)
        expect(await same.read()).toMatchObject({ generation: 1, accessToken: at })
        const other = createRedisCoordinator({ client: await connect(), name, key: randomBytes(32) })
        expect(await other.read()).toBeUndefined()
        other.close()
        // One bit of the sealed text flipped: unreadable.
        const sealed = Buffer.from(JSON.parse(raw).sealed, 'base64')
        sealed[sealed.length - 1]! ^= 1
        await probe.set(`rotor:{${name}}:state`, JSON.stringify({ rotor: 'redis', v: 2, sealed: sealed.toString('base64') }))
        expect(await same.read()).toBeUndefined()
      } finally {
        await env.close()
      }
    })

    test("tokens: 'omit' keeps every token out of Redis; the bearer transport is refused at start()", async () => {
      const name = randomUUID()
      const env = await startEnv({ accessTokenTtl: 60_000 })
      try {
        const session = createSession({ scope: `${env.url}/api`, transport: 'bearer', refresh: { url: `${env.url}/bearer/refresh`, style: 'json' }, coordinator: await member(name, { tokens: 'omit' }) })
        env.sessions.push(session)
        await expect(session.start(await bearerLogin(env.url))).rejects.toThrow(/tokens: 'omit'.*bearer/)
        const probe = await connect()
        expect(await probe.get(`rotor:{${name}}:state`)).toBeNull()
        // What it does share: generation, status, expirations.
        const c = await member(name, { tokens: 'omit' })
        await c.write({ generation: 3, status: 'active', issuedAt: 1, accessExpiresAt: 2, refreshExpiresAt: 3 })
        expect(JSON.parse((await probe.get(`rotor:{${name}}:state`))!)).toMatchObject({ snapshot: { generation: 3, accessExpiresAt: 2 } })
      } finally {
        await env.close()
      }
    })

    test('a write never replaces a snapshot that supersedes it; messages never reach their sender', async () => {
      const name = randomUUID()
      const [a, b] = [await member(name), await member(name)]
      const heardA: string[] = []
      const heardB: string[] = []
      a.subscribe(m => void heardA.push(m.type))
      b.subscribe(m => void heardB.push(m.type))
      const active = (generation: number) => ({ generation, status: 'active' as const, issuedAt: 1, accessExpiresAt: 2, refreshExpiresAt: null })
      await subscribed(name, a, b)
      await a.write(active(5))
      await b.write(active(4))
      expect(await b.read()).toMatchObject({ generation: 5 })
      await b.write({ generation: 5, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'user' })
      await a.write(active(5))
      expect(await a.read()).toMatchObject({ generation: 5, status: 'signed-out' })
      a.post({ type: 'hello' })
      await waitFor(() => heardB.includes('hello'))
      // The channel keeps its order: once a hears b's answer, its own hello would have come first.
      b.post({ type: 'activity', at: 1 })
      await waitFor(() => heardA.includes('activity'))
      expect(heardA).not.toContain('hello')
      expect(heardB.filter(t => t === 'state')).toHaveLength(1) // a's write of 5 (b's of 4 was refused, a's second too)
    })
  })

  describe('what a writer without the key can do (issue 26.8b, c; 25.6)', () => {
    const active = (generation: number, extra: Partial<Snapshot> = {}): Snapshot => ({
      generation, status: 'active', issuedAt: Date.now(), accessExpiresAt: Date.now() + 3_600_000, refreshExpiresAt: null, accessToken: `at-${generation}`, refreshToken: `rt-${generation}`, ...extra,
    })
    const errorsOf = (m: RedisCoordinator) => {
      const seen: RedisStateError[] = []
      m.on('error', e => void seen.push(e))
      return seen
    }

    test('a forged plain value (generation 2^40) stops nothing: it reads as absent, is reported, and the next write replaces it and reaches the others', async () => {
      const name = randomUUID()
      const [a, b] = [await member(name), await member(name)]
      const heard: number[] = []
      b.subscribe(m => void (m.type === 'state' && heard.push(m.snapshot.generation)))
      const errors = errorsOf(a)
      await subscribed(name, a, b)
      const probe = await connect()
      await probe.set(`rotor:{${name}}:state`, JSON.stringify({ generation: 2 ** 40, status: 'active', sealed: 'AAAA' }))
      expect(await a.read()).toBeUndefined()
      expect(errors.map(e => [e.code, e.problem, isRotorError(e)])).toEqual([['ERR_REDIS_STATE', 'unreadable', true]])
      await a.write(active(2))
      expect(await b.read()).toMatchObject({ generation: 2, refreshToken: 'rt-2' })
      await waitFor(() => heard.includes(2))
      // Reported once per value, not per read.
      expect(errors).toHaveLength(1)
    })

    test('an old sealed state put back is reported and never adopted by a member that saw a newer one; its next write restores the newer', async () => {
      const name = randomUUID()
      const env = await startEnv({ accessTokenTtl: 60_000 })
      try {
        const a = await member(name)
        const probe = await connect()
        await a.write(active(3))
        const old = (await probe.get(`rotor:{${name}}:state`))!
        await a.write(active(4))
        const b = await member(name)
        const session = createSession({ scope: `${env.url}/api`, transport: 'bearer', rotation: 'request', refresh: { url: `${env.url}/bearer/refresh`, style: 'json' }, coordinator: b })
        env.sessions.push(session)
        await waitFor(() => session.state.generation === 4)
        const errors = errorsOf(b)
        await probe.set(`rotor:{${name}}:state`, old)
        expect(await b.read()).toMatchObject({ generation: 3 })
        expect(errors.map(e => e.problem)).toEqual(['rolled-back'])
        expect(session.state.generation).toBe(4)
        expect(await session.accessToken()).toBe('at-4')
        // A write of 4 again (what a member re-seeds after a reconnect) replaces the older 3.
        await b.write(active(4))
        expect(await (await member(name)).read()).toMatchObject({ generation: 4 })
      } finally {
        await env.close()
      }
    })

    test('a peer that lags (its older state heard on the channel) is not reported as a roll-back', async () => {
      const name = randomUUID()
      const [a, b] = [await member(name), await member(name)]
      const errors = errorsOf(a)
      const heard: number[] = []
      a.subscribe(m => void (m.type === 'state' && heard.push(m.snapshot.generation)))
      await a.write(active(5))
      expect(await a.read()).toMatchObject({ generation: 5 })
      await subscribed(name, a, b)
      b.post({ type: 'state', snapshot: active(4) })
      await waitFor(() => heard.includes(4))
      expect(errors).toEqual([])
    })

    test('each name is sealed with its own key derived from the deployment key: the deployment key itself opens nothing', async () => {
      const name = randomUUID()
      const a = await member(name)
      await a.write(active(1))
      const probe = await connect()
      const { sealed } = JSON.parse((await probe.get(`rotor:{${name}}:state`))!) as { sealed: string }
      const raw = Buffer.from(sealed, 'base64')
      const openWith = (k: Uint8Array) => {
        const decipher = createDecipheriv('aes-256-gcm', k, raw.subarray(0, 12))
        decipher.setAuthTag(raw.subarray(12, 28))
        decipher.setAAD(Buffer.from(`rotor-auth/redis\0v2\0${name}`))
        return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'))
      }
      expect(() => openWith(key)).toThrow()
      const derived = Buffer.from(hkdfSync('sha256', key, 'rotor-auth/redis v2', name, 32))
      expect(openWith(derived)).toMatchObject({ generation: 1, refreshToken: 'rt-1' })
      // Another name's key, from the same deployment key, opens nothing of this name's.
      expect(() => openWith(Buffer.from(hkdfSync('sha256', key, 'rotor-auth/redis v2', `${name}-other`, 32)))).toThrow()
    })

    test('key rotation: [new, old] opens what old sealed and seals with new; a member with the old key alone reports the state it cannot open', async () => {
      const name = randomUUID()
      const fresh = randomBytes(32)
      const oldOnly = await member(name)
      await oldOnly.write(active(1))
      const both = createRedisCoordinator({ client: await connect(), name, key: [fresh, key] })
      members.push(both)
      const errorsBoth = errorsOf(both)
      expect(await both.read()).toMatchObject({ generation: 1, refreshToken: 'rt-1' })
      await both.write(active(2))
      const errorsOld = errorsOf(oldOnly)
      expect(await oldOnly.read()).toBeUndefined()
      expect(errorsOld.map(e => e.problem)).toEqual(['unreadable'])
      expect(errorsOld[0]!.message).not.toContain('rt-')
      const newOnly = createRedisCoordinator({ client: await connect(), name, key: fresh.toString('base64') })
      members.push(newOnly)
      expect(await newOnly.read()).toMatchObject({ generation: 2 })
      expect(errorsBoth).toEqual([])
    })

    test('stored keys expire with the RT (plus a margin), or after 30 days when its expiry is unknown', async () => {
      const name = randomUUID()
      const a = await member(name)
      await a.lock(async () => undefined) // the fence and epoch keys exist
      const probe = await connect()
      const pttl = (k: string) => probe.pTTL(`rotor:{${name}}:${k}`)
      await a.write(active(1, { refreshExpiresAt: Date.now() + 60_000 }))
      for (const k of ['state', 'fence', 'epoch']) {
        const ttl = await pttl(k)
        expect(ttl, k).toBeGreaterThan(3_600_000 + 50_000)
        expect(ttl, k).toBeLessThanOrEqual(3_600_000 + 60_000)
      }
      await a.write(active(2))
      expect(await pttl('state')).toBeGreaterThan(29 * 24 * 3_600_000)
    })
  })

  describe('the lease and the fence (issue 26.8a)', () => {
    test('a holder paused past its lease after reading (event loop blocked) is told by its lease, even though no renewal said so', async () => {
      const name = randomUUID()
      const a = await member(name, { lease: 300 })
      const seen: boolean[] = []
      await a.lock(async lease => {
        await a.read()
        seen.push(lease!.held())
        // A pause (GC, SIGSTOP): no timer, no renewal, no reply runs meanwhile.
        const until = performance.now() + 400
        while (performance.now() < until) {
          // blocked
        }
        seen.push(lease!.held())
      })
      expect(seen).toEqual([true, false])
    })

    test('cookie transport: a holder paused past its lease does not record a refresh it will not send', async () => {
      const name = randomUUID()
      const a = await member(name, { lease: 300 })
      const base: Snapshot = { generation: 1, status: 'active', issuedAt: 1, accessExpiresAt: 2, refreshExpiresAt: null }
      await a.write(base)
      await expect(
        a.lock(async () => {
          await a.read()
          const until = performance.now() + 400
          while (performance.now() < until) {
            // blocked (GC, SIGSTOP)
          }
          await a.write({ ...base, rotatingSince: Date.now() })
        }),
      ).rejects.toThrow(/lease ran out/)
      const stored = await (await member(name)).read()
      expect(stored).toMatchObject({ generation: 1 })
      expect(stored?.rotatingSince).toBeUndefined()
    })

    test('a holder below the current fence may not write its markers; the result of its refresh still goes in', async () => {
      const name = randomUUID()
      const a = await member(name)
      const probe = await connect()
      const stored = (g: number, extra: Partial<Snapshot> = {}): Snapshot => ({ generation: g, status: 'active', issuedAt: 1, accessExpiresAt: 2, refreshExpiresAt: null, accessToken: 'at', refreshToken: `rt-${g}`, ...extra })
      await a.write(stored(1))
      await a.lock(async () => {
        const fence = Number(await probe.get(`rotor:{${name}}:fence`))
        // A later grant exists (this holder's lease ran out and another member took the lock).
        await probe.set(`rotor:{${name}}:fence`, String(fence + 1))
        await expect(a.write(stored(1, { ending: 'rejected' }))).rejects.toThrow(/later holder/)
        await expect(a.write({ generation: 2, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'rejected' })).rejects.toThrow(/later holder/)
        expect(await (await member(name)).read()).toMatchObject({ generation: 1, status: 'active' })
        await a.write(stored(2))
      })
      expect(await (await member(name)).read()).toMatchObject({ generation: 2, refreshToken: 'rt-2' })
    })
  })

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
        scope: `${env.url}/api`, transport: 'bearer', rotation: 'request', queueTimeout: 1_500,
        // Redis comes back empty: nobody takes the lock for one lease (the quiet period).
        refresh: { url: `${env.url}/bearer/refresh`, style: 'json' }, coordinator: await member(name, { lease: 300 }), now,
      })
      env.sessions.push(session)
      const events = record(session)
      await session.start(await bearerLogin(env.url))
      expect((await session.fetch(`${env.url}/api/a`)).status).toBe(200)
      await redis.kill()
      try {
        // The AT is still usable: Redis is not needed.
        expect((await session.fetch(`${env.url}/api/b`)).status).toBe(200)
        clock.advance(10_001)
        await expect(session.fetch(`${env.url}/api/c`)).rejects.toMatchObject({ code: 'ERR_ROTATION' })
        expect(env.server.stats).toMatchObject({ refreshCalls: 0 })
        expect(session.state.status).toBe('active')
        expect(events.of('logout')).toEqual([])
      } finally {
        await redis.start()
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
      await redis.kill()
      let late: Session
      try {
        late = createSession({
          scope: `${env.url}/api`, transport: 'bearer', rotation: 'request', queueTimeout: 1_000,
          refresh: { url: `${env.url}/bearer/refresh`, style: 'json' }, coordinator: createRedisCoordinator({ client, name, key }),
        })
        env.sessions.push(late)
        const settled = await Promise.race([
          late.fetch(`${env.url}/api/a`).then(() => 'sent', (error: unknown) => error),
          sleep(15_000).then(() => 'still waiting after 15 s'),
        ])
        expect(settled).toMatchObject({ code: 'ERR_ROTATION' })
        expect(isRotorError(settled)).toBe(true)
        expect(env.server.stats).toMatchObject({ api200: 0, api401: 0, refreshCalls: 0 })
      } finally {
        await redis.start()
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
      await redis.restart(100)
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
      let b!: Session
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
            subscribe: (channel, listener) => sub.subscribe(channel, (message: string, from: string) => (holding ? held.push(() => listener(message, from)) : listener(message, from))),
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
      const failure = await a.rotate().then(() => 'rotated', (error: unknown) => error)
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
