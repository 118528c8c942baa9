/**
 * A state the store lost (another client's garbage over it, a delete) is put back by a live
 * member when a newcomer says hello: the newcomer numbers its login above the live session,
 * not from 0 (sim seed 3320). Real redis-server.
 */
import { randomUUID } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import type { Snapshot } from '../../src/coordinator/types.js'
import { CLIENTS, type ClientFactory } from './clients.js'
import { redisMembers, until } from './members.js'
import { HAVE_REDIS } from './server.js'

const HOUR = 3_600_000
const live = (generation: number): Snapshot => {
  const now = Date.now()
  return {
    generation,
    status: 'active',
    issuedAt: now,
    accessExpiresAt: now + HOUR,
    refreshExpiresAt: now + 24 * HOUR,
    accessToken: `at-${generation}`,
    refreshToken: `rt-${generation}`,
  }
}

describe.skipIf(!HAVE_REDIS).each(CLIENTS)('a state lost from Redis ($label)', (factory: ClientFactory) => {
  const { member, connect, subscribed } = redisMembers(factory)

  test.each([
    ['garbage written over it', (probe: Awaited<ReturnType<typeof connect>>, key: string) => probe.set(key, 'not a sealed state')],
    ['deleted', (probe: Awaited<ReturnType<typeof connect>>, key: string) => probe.del(key)],
  ])("%s: a live member that hears a newcomer's hello puts back the newest state it knows", async (_, lose) => {
    const name = `reseed-${randomUUID()}`
    const holder = await member(name)
    await subscribed(name, holder)
    await holder.write(live(7))
    const probe = await connect()
    await lose(probe, `rotor:{${name}}:state`)
    const newcomer = await member(name)
    await subscribed(name, holder, newcomer)
    // Before anyone asks, the newcomer finds nothing (it would number a login from 0).
    expect(await newcomer.read()).toBeUndefined()
    newcomer.post({ type: 'hello' })
    // Before: nobody put it back; the newcomer read nothing until the holder's next rotation.
    await until(async () => (await newcomer.read())?.generation === 7)
    expect(await newcomer.read()).toMatchObject({ generation: 7, status: 'active', refreshToken: 'rt-7' })
  })

  test('a store that still holds a state is left as it is (no write per hello)', async () => {
    const name = `reseed-${randomUUID()}`
    const holder = await member(name)
    await subscribed(name, holder)
    await holder.write(live(3))
    const probe = await connect()
    const key = `rotor:{${name}}:state`
    const before = await probe.get(key)
    const newcomer = await member(name)
    await subscribed(name, holder, newcomer)
    for (let i = 0; i < 3; i++) newcomer.post({ type: 'hello' })
    // Long enough for a write to land (the first test's put-back takes a few ms); a rewrite would seal anew, other bytes.
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(await probe.get(key)).toBe(before)
  })
})
