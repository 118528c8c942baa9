/**
 * The Redis coordinator against a real redis-server, in one process: options, the lock
 * (exclusive, renewed, expired when its holder dies, fenced) and the lease it hands its holder.
 * What Redis holds is in store.test.ts, sessions sharing one pair in sessions.test.ts, the
 * lock's decisions on virtual time in lock.test.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import type { Snapshot } from '../../src/coordinator/types.js'
import { createRedisCoordinator } from '../../src/redis/index.js'
import { sleep, waitFor } from '../helpers/index.js'
import { CLIENTS, drop, type ClientFactory } from './clients.js'
import { redisMembers, until } from './members.js'
import { HAVE_REDIS } from './server.js'

describe.skipIf(!HAVE_REDIS).each(CLIENTS)('createRedisCoordinator ($label)', (factory: ClientFactory) => {
  const { key, connect, member } = redisMembers(factory)

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
      void doomed
        .lock(async () => {
          entered = true
          await new Promise(() => undefined)
        })
        .catch(() => undefined)
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

    test("a holder whose lock was taken over is told by its lease (the renewal in its read found it), and cannot release the other's lock", async () => {
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
      const stored = (g: number, extra: Partial<Snapshot> = {}): Snapshot => ({
        generation: g,
        status: 'active',
        issuedAt: 1,
        accessExpiresAt: 2,
        refreshExpiresAt: null,
        accessToken: 'at',
        refreshToken: `rt-${g}`,
        ...extra,
      })
      await a.write(stored(1))
      await a.lock(async () => {
        const fence = Number(await probe.get(`rotor:{${name}}:fence`))
        // A later grant exists (this holder's lease ran out and another member took the lock).
        await probe.set(`rotor:{${name}}:fence`, String(fence + 1))
        await expect(a.write(stored(1, { ending: 'rejected' }))).rejects.toThrow(/later holder/)
        await expect(a.write({ generation: 2, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'rejected' })).rejects.toThrow(
          /later holder/,
        )
        expect(await (await member(name)).read()).toMatchObject({ generation: 1, status: 'active' })
        await a.write(stored(2))
      })
      expect(await (await member(name)).read()).toMatchObject({ generation: 2, refreshToken: 'rt-2' })
    })
  })
})
