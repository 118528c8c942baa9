/**
 * The lock of tabs that share no lock (src/coordinator/leader-lock.ts), each "tab" here an
 * instance with a mutex and a platform channel of its own, all on Node's BroadcastChannel:
 * one leader is elected; holders never overlap, even two that claim at the same moment;
 * a follower that needs a refresh asks the leader and runs only once a newer state is in.
 * The browser proof (five Chromium tabs on a non-secure origin) is test/browser/no-web-locks.test.ts.
 */
import { BroadcastChannel as PackageChannel } from 'broadcast-channel'
import { afterEach, describe, expect, test } from 'vitest'
import { openChannel, type Channel } from '../../src/coordinator/channel.js'
import { createLeaderLock, type LeaderLock, type LeaderLockOptions } from '../../src/coordinator/leader-lock.js'
import { Mutex } from '../../src/coordinator/realm.js'
import type { Message, Snapshot } from '../../src/index.js'

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

type Tab = { name: string; lock: LeaderLock; channel: Channel; stored: { snapshot: Snapshot | undefined }; heard: Message[] }

let tabs: Tab[] = []
let names = 0

function openTabs(count: number, shared: { snapshot: Snapshot | undefined } = { snapshot: undefined }, limits: Partial<LeaderLockOptions> = {}): Tab[] {
  const name = `leader-lock-test-${process.pid}-${++names}`
  const opened = Array.from({ length: count }, (_, i) => {
    const channel = openChannel(name, `tab${i}`)
    const heard: Message[] = []
    channel.subscribe(message => heard.push(message))
    const lock = createLeaderLock({
      name,
      channel,
      read: () => shared.snapshot,
      mutex: new Mutex(),
      holdLimitMs: 5_000,
      followerLimitMs: 3_000,
      ...limits,
    })
    return { name, lock, channel, stored: shared, heard }
  })
  tabs.push(...opened)
  return opened
}

async function leaderIndex(of: Tab[]): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const leaders = of.map((t, j) => (t.lock.isLeader() ? j : -1)).filter(j => j >= 0)
    if (leaders.length === 1) return leaders[0]!
    await sleep(20)
  }
  throw new Error('no single leader was elected')
}

const active = (generation: number): Snapshot => ({ generation, status: 'active', issuedAt: 0, accessExpiresAt: 1, refreshExpiresAt: 2 })

afterEach(async () => {
  for (const t of tabs) {
    t.lock.release()
    t.channel.close()
  }
  tabs = []
  await sleep(50)
})

describe('leader-lock', () => {
  test('one leader among three tabs; holders never overlap, even when all claim at once', async () => {
    const three = openTabs(3)
    await leaderIndex(three)
    let inside = 0
    let most = 0
    let runs = 0
    const hold = async () => {
      inside++
      most = Math.max(most, inside)
      await sleep(15)
      inside--
      runs++
    }
    // Exclusion only (no refresh): every tab takes the claim path, at the same moment.
    await Promise.all(three.flatMap(t => [t.lock.lock(hold), t.lock.lock(hold), t.lock.lock(hold)]))
    expect(runs).toBe(9)
    expect(most, 'holders at once').toBe(1)
  }, 20_000)

  test('a follower that needs a refresh asks the leader, and runs only after a newer state arrived', async () => {
    const shared = { snapshot: active(4) as Snapshot | undefined }
    const two = openTabs(2, shared)
    const leader = await leaderIndex(two)
    const follower = two[1 - leader]!
    let ranAt: number | undefined
    const asked = follower.lock.lock(
      async () => {
        ranAt = shared.snapshot!.generation
      },
      { refresh: true },
    )
    // The leader hears the request, naming the newest generation the follower knows.
    for (let i = 0; i < 50 && !two[leader]!.heard.some(m => m.type === 'rotate-request'); i++) await sleep(10)
    const request = two[leader]!.heard.find(m => m.type === 'rotate-request')
    expect(request).toMatchObject({ type: 'rotate-request', generation: 4 })
    await sleep(100)
    expect(ranAt, 'the follower ran before any new state').toBeUndefined()
    // The leader rotates: the store and a state message move to generation 5.
    shared.snapshot = active(5)
    two[leader]!.channel.post({ type: 'state', snapshot: active(5) })
    await asked
    expect(ranAt).toBe(5)
  }, 20_000)

  test('the leader runs a refresh itself; a closed leader hands over to the other tab', async () => {
    const two = openTabs(2)
    const leader = await leaderIndex(two)
    let ran = 0
    await two[leader]!.lock.lock(async () => void ran++, { refresh: true })
    expect(ran).toBe(1)
    two[leader]!.lock.release()
    const next = await leaderIndex([two[1 - leader]!])
    expect(next).toBe(0)
    await two[1 - leader]!.lock.lock(async () => void ran++, { refresh: true })
    expect(ran).toBe(2)
  }, 20_000)

  test('a forged far-ahead state (generation 2^40) is not the generation a follower asks for, nor counts as newer', async () => {
    const shared = { snapshot: active(4) as Snapshot | undefined }
    const two = openTabs(2, shared)
    const leader = await leaderIndex(two)
    const follower = two[1 - leader]!
    // A page of the origin posts a state no tab holds, on the session's channel.
    const forger = openChannel(follower.name, 'forger')
    forger.post({ type: 'state', snapshot: active(2 ** 40) })
    forger.close()
    await sleep(50)
    let ranAt: number | undefined
    const asked = follower.lock.lock(async () => void (ranAt = shared.snapshot!.generation), { refresh: true })
    for (let i = 0; i < 50 && !two[leader]!.heard.some(m => m.type === 'rotate-request'); i++) await sleep(10)
    expect(two[leader]!.heard.find(m => m.type === 'rotate-request')).toMatchObject({ type: 'rotate-request', generation: 4 })
    await sleep(100)
    expect(ranAt, 'the forged state counted as a newer one').toBeUndefined()
    shared.snapshot = active(5)
    two[leader]!.channel.post({ type: 'state', snapshot: active(5) })
    await asked
    expect(ranAt).toBe(5)
  }, 20_000)

  test('a follower whose leader never answers fails transiently after followerLimitMs', async () => {
    const shared = { snapshot: active(1) as Snapshot | undefined }
    const two = openTabs(2, shared)
    const leader = await leaderIndex(two)
    const follower = two[1 - leader]!
    const started = Date.now()
    await expect(follower.lock.lock(async () => 'ran', { refresh: true })).rejects.toThrow(/did not answer/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000 - 50)
  }, 20_000)

  describe('what a page of the origin can cost with one forged message (issue 26.9)', () => {
    /** A page of the origin on the election's channel, speaking the claims and the package's election. */
    function forger(name: string) {
      const bc = new PackageChannel<unknown>(`${name}:leader`, { type: 'native' })
      forgers.push(bc)
      return bc
    }
    const forgers: Array<PackageChannel<unknown>> = []
    afterEach(async () => {
      for (const bc of forgers.splice(0)) await bc.close()
    })

    test('a claim never renewed holds the lock for the silence limit, not the hold limit', async () => {
      const [tab] = openTabs(1, undefined, { holdLimitMs: 60_000, claimSilentMs: 1_000 })
      await leaderIndex([tab!])
      await forger(tab!.name).postMessage({ rotorLock: 1, t: 'claim', id: 'forger', at: 0 })
      await sleep(50)
      // Bounded generously: the silence limit is 1 s, the hold limit 60 s.
      const outcome = await Promise.race([tab!.lock.lock(async () => 'ran'), sleep(10_000).then(() => 'still blocked')])
      expect(outcome).toBe('ran')
    }, 20_000)

    test('a holder past the silence limit still excludes the next one: it answers its claim with `held`', async () => {
      const two = openTabs(2, undefined, { holdLimitMs: 60_000, claimSilentMs: 600 })
      await leaderIndex(two)
      let inside = 0
      let most = 0
      const hold = async () => {
        inside++
        most = Math.max(most, inside)
        await sleep(1_500)
        inside--
      }
      const first = two[0]!.lock.lock(hold)
      await sleep(200)
      await Promise.all([first, two[1]!.lock.lock(hold)])
      expect(most, 'holders at once').toBe(1)
    }, 20_000)

    test("a forged `tell` (a duplicate leader) while the leader holds: it keeps its claim until it is done, nobody overlaps", async () => {
      const two = openTabs(2)
      const leader = await leaderIndex(two)
      let inside = 0
      let most = 0
      const hold = async () => {
        inside++
        most = Math.max(most, inside)
        await sleep(400)
        inside--
      }
      const held = two[leader]!.lock.lock(hold)
      await sleep(100)
      await (forger(two[0]!.name) as unknown as { postInternal(message: unknown): Promise<void> }).postInternal({ context: 'leader', action: 'tell', token: 'forged' })
      await sleep(50)
      await Promise.all([held, two[1 - leader]!.lock.lock(hold)])
      expect(most, 'holders at once').toBe(1)
      // And the origin has a leader again soon after.
      await leaderIndex(two)
    }, 20_000)
  })
})
