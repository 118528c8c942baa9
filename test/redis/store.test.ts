/**
 * What the Redis coordinator keeps in Redis and sends on its channel, against a real
 * redis-server: sealed at rest and on the wire, never moved backwards, and what a writer
 * without the key can and cannot do.
 */
import { createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import type { Snapshot } from '../../src/coordinator/types.js'
import { createSession, isRotorError } from '../../src/index.js'
import { createRedisCoordinator, type RedisCoordinator, type RedisStateError } from '../../src/redis/index.js'
import { bearerLogin, startEnv, waitFor } from '../helpers/index.js'
import { CLIENTS, type ClientFactory } from './clients.js'
import { redisMembers } from './members.js'
import { HAVE_REDIS } from './server.js'

describe.skipIf(!HAVE_REDIS).each(CLIENTS)('the Redis store and channel ($label)', (factory: ClientFactory) => {
  const { key, connect, member, members, subscribed } = redisMembers(factory)

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
        const session = createSession({
          scope: `${env.url}/api`,
          transport: 'bearer',
          refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
          coordinator: await member(name, { tokens: 'omit' }),
        })
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
      generation,
      status: 'active',
      issuedAt: Date.now(),
      accessExpiresAt: Date.now() + 3_600_000,
      refreshExpiresAt: null,
      accessToken: `at-${generation}`,
      refreshToken: `rt-${generation}`,
      ...extra,
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
        const session = createSession({
          scope: `${env.url}/api`,
          transport: 'bearer',
          rotation: 'request',
          refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
          coordinator: b,
        })
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
})
