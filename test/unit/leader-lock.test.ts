/**
 * The lock of tabs that share no lock (src/coordinator/leader-lock.ts: claims.ts + election.ts),
 * on virtual time: each "tab" is an instance with a mutex of its own, a fake platform (the
 * clock and timers vitest fakes, page events the test fires) and an in-memory session channel;
 * the election runs the broadcast-channel package's protocol on its in-memory `simulate` method.
 * One leader is elected, once; holders never overlap; a follower that needs a refresh asks the
 * leader and runs only once a newer state is in, or fails after its limit; a frozen leader hands
 * over, and a claim it left behind lapses. The browser proof (five Chromium tabs on a non-secure
 * origin) is test/browser/no-web-locks.test.ts.
 */
import { BroadcastChannel as PackageChannel } from 'broadcast-channel'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { Channel } from '../../src/coordinator/channel.js'
import { packageRoom, type OpenRoom } from '../../src/coordinator/election.js'
import { createLeaderLock, type LeaderLock, type LeaderLockOptions, type LeaderPlatform } from '../../src/coordinator/leader-lock.js'
import { LEADER_KIT } from '../../src/coordinator/locks.js'
import { parseMessage } from '../../src/coordinator/protocol.js'
import { Mutex } from '../../src/coordinator/realm.js'
import { isRotorError, type Message, type Snapshot } from '../../src/index.js'

type Shared = { snapshot: Snapshot | undefined }
/** `fire` raises a page event ('freeze', 'resume', 'pagehide'); a `muted` (frozen) page says and hears nothing on the election channel. */
type Tab = { name: string; lock: LeaderLock; channel: Channel; heard: Message[]; fire(type: string): void; muted: boolean }

/** Virtual ms: runs every timer due meanwhile, and the promises they settle. */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms)

/** Advances virtual time in small steps until `condition()` holds; returns the virtual ms it took. */
async function until(condition: () => boolean, limitMs = 10_000): Promise<number> {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > limitMs) throw new Error(`not within ${limitMs} virtual ms`)
    await advance(10)
  }
  return Date.now() - started
}

/** Settles `promise` on virtual time, at most `limitMs`. */
async function settle<T>(promise: Promise<T>, limitMs = 60_000): Promise<PromiseSettledResult<T>> {
  let result: PromiseSettledResult<T> | undefined
  promise.then(
    value => void (result = { status: 'fulfilled', value }),
    (reason: unknown) => void (result = { status: 'rejected', reason }),
  )
  await until(() => result !== undefined, limitMs)
  return result!
}

/** The session channel of one name, in memory: every message parsed as a tab would, never heard by its sender. */
function memoryBus() {
  const members = new Map<string, Set<(message: Message) => void>>()
  return (id: string): Channel => {
    const listeners = new Set<(message: Message) => void>()
    members.set(id, listeners)
    return {
      post(message) {
        const parsed = parseMessage({ ...message, rotor: 1, from: id })
        if (!parsed) return
        for (const [other, set] of members) if (other !== id) for (const listener of [...set]) queueMicrotask(() => listener(parsed))
      },
      subscribe(listener) {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
      close: () => void members.delete(id),
    }
  }
}

/** The package's election in memory, with the tab's muting applied (a frozen page is silent). */
function roomOf(tab: { muted: boolean }): OpenRoom {
  const open = packageRoom('simulate')
  return (name, events) => {
    const room = open(name, { message: data => void (tab.muted || events.message(data)), duplicate: events.duplicate })
    return {
      post: message => (tab.muted ? Promise.resolve() : room.post(message)),
      get isLeader(): boolean {
        return room.isLeader
      },
      awaitLeadership: () => room.awaitLeadership(),
      close: () => room.close(),
    }
  }
}

/** How far the tabs' wall clock stands from the virtual time (the user set it); their monotonic clock is the virtual time. */
let wallShift = 0

function fakePlatform(id: string): LeaderPlatform & { fire(type: string): void } {
  const listeners = new Map<string, Set<() => void>>()
  return {
    now: () => Date.now() + wallShift,
    monotonic: () => Date.now(),
    after(ms, fn) {
      const handle = setTimeout(fn, ms)
      return { cancel: () => clearTimeout(handle) }
    },
    random: () => 0.5,
    randomId: () => id,
    on(type, listener) {
      const set = listeners.get(type) ?? new Set()
      listeners.set(type, set.add(listener))
      return () => void set.delete(listener)
    },
    fire: type => listeners.get(type)?.forEach(listener => listener()),
  }
}

let tabs: Tab[] = []
let forgers: Array<PackageChannel<unknown>> = []
let names = 0

function openTabs(count: number, shared: Shared = { snapshot: undefined }, limits: Partial<LeaderLockOptions> = {}): Tab[] {
  const name = `leader-lock-test-${process.pid}-${++names}`
  const bus = memoryBus()
  const opened = Array.from({ length: count }, (_, i) => {
    const channel = bus(`tab${i}`)
    const heard: Message[] = []
    channel.subscribe(message => heard.push(message))
    const platform = fakePlatform(`tab${i}`)
    const tab = { name, channel, heard, fire: platform.fire, muted: false } as Tab
    tab.lock = createLeaderLock({
      kit: LEADER_KIT,
      name,
      channel,
      read: () => shared.snapshot,
      mutex: new Mutex(),
      holdLimitMs: 5_000,
      followerLimitMs: 3_000,
      platform,
      openRoom: roomOf(tab),
      ...limits,
    })
    return tab
  })
  tabs.push(...opened)
  return opened
}

/** A page of the origin on the election's channel, speaking the claims and the package's election. */
function forger(name: string): PackageChannel<unknown> {
  const bc = new PackageChannel<unknown>(`${name}:leader`, { type: 'simulate' })
  forgers.push(bc)
  return bc
}

const leaders = (of: Tab[]) => of.filter(t => t.lock.isLeader())

/** Waits (virtually) for exactly one leader among `of`; returns its index. */
async function leaderIndex(of: Tab[]): Promise<number> {
  await until(() => leaders(of).length === 1)
  return of.indexOf(leaders(of)[0]!)
}

const active = (generation: number): Snapshot => ({ generation, status: 'active', issuedAt: 0, accessExpiresAt: 1, refreshExpiresAt: 2 })

/** A lock holder that records overlap: `most` is the largest number of holders at once. */
function overlapProbe(holdMs: number) {
  const probe = { inside: 0, most: 0, runs: 0 }
  const hold = async () => {
    probe.inside++
    probe.most = Math.max(probe.most, probe.inside)
    await new Promise(resolve => setTimeout(resolve, holdMs))
    probe.inside--
    probe.runs++
  }
  return { probe, hold }
}

beforeEach(() => {
  vi.useFakeTimers()
  wallShift = 0
})

afterEach(async () => {
  for (const t of tabs) {
    t.lock.release()
    t.channel.close()
  }
  for (const bc of forgers) void bc.close()
  tabs = []
  forgers = []
  await advance(5_000)
  vi.useRealTimers()
})

describe('leader-lock on virtual time', () => {
  test('one leader among three tabs, elected once: it keeps leading for a minute', async () => {
    const three = openTabs(3)
    const first = await leaderIndex(three)
    for (let second = 0; second < 60; second++) {
      await advance(1_000)
      expect(
        leaders(three).map(t => three.indexOf(t)),
        `leaders after ${second + 1} s`,
      ).toEqual([first])
    }
  })

  test('holders never overlap, even when all three tabs claim at once', async () => {
    const three = openTabs(3)
    await leaderIndex(three)
    const { probe, hold } = overlapProbe(15)
    // Exclusion only (no refresh): every tab takes the claim path, at the same moment.
    const all = Promise.all(three.flatMap(t => [t.lock.lock(hold), t.lock.lock(hold), t.lock.lock(hold)]))
    expect((await settle(all)).status).toBe('fulfilled')
    expect(probe.runs).toBe(9)
    expect(probe.most, 'holders at once').toBe(1)
  })

  test('a follower that needs a refresh asks the leader, and runs only after a newer state arrived', async () => {
    const shared: Shared = { snapshot: active(4) }
    const two = openTabs(2, shared)
    const leader = await leaderIndex(two)
    const follower = two[1 - leader]!
    let ranAt: number | undefined
    const asked = follower.lock.lock(async () => void (ranAt = shared.snapshot!.generation), { refresh: true })
    // The leader hears the request, naming the newest generation the follower knows.
    await until(() => two[leader]!.heard.some(m => m.type === 'rotate-request'))
    expect(two[leader]!.heard.find(m => m.type === 'rotate-request')).toMatchObject({ type: 'rotate-request', generation: 4 })
    await advance(2_000)
    expect(ranAt, 'the follower ran before any new state').toBeUndefined()
    // The leader rotates: the store and a state message move to generation 5.
    shared.snapshot = active(5)
    two[leader]!.channel.post({ type: 'state', snapshot: active(5) })
    expect((await settle(asked)).status).toBe('fulfilled')
    expect(ranAt).toBe(5)
  })

  test('a follower rotating from an older generation than the store holds asks for one above its own: the leader answers instead of rotating again (sim seed 503223)', async () => {
    // The leader has just rotated to 5 and written it; the follower, still at 4, asks before the state message reaches it.
    const shared: Shared = { snapshot: active(5) }
    const two = openTabs(2, shared)
    const leader = await leaderIndex(two)
    const follower = two[1 - leader]!
    let ran = false
    const asked = follower.lock.lock(async () => void (ran = true), { refresh: true, generation: 4 })
    await until(() => two[leader]!.heard.some(m => m.type === 'rotate-request'))
    // 4, not the store's 5: a leader at 5 answers with its state (rotateRequestVerdict 'answer'); asked for 5, it rotated.
    expect(two[leader]!.heard.find(m => m.type === 'rotate-request')).toMatchObject({ type: 'rotate-request', generation: 4 })
    // The newer state is already known: the follower runs (under the claims) and adopts it.
    expect((await settle(asked)).status).toBe('fulfilled')
    expect(ran).toBe(true)
  })

  test('a follower that hears of a newer state runs only once the holder released: the state may be one its session refuses (sim seed 3331)', async () => {
    const shared: Shared = { snapshot: active(4) }
    const two = openTabs(2, shared)
    const leader = await leaderIndex(two)
    const follower = two[1 - leader]!
    const { probe, hold } = overlapProbe(500)
    const leading = two[leader]!.lock.lock(hold, { refresh: true })
    await until(() => probe.inside === 1)
    const asked = follower.lock.lock(hold, { refresh: true })
    await until(() => two[leader]!.heard.some(m => m.type === 'rotate-request'))
    // A newer state is heard while the leader still holds the lock (a forged one, or one the
    // follower's session does not adopt): running the follower's refresh now would present its RT
    // beside the leader's.
    two[leader]!.channel.post({ type: 'state', snapshot: active(5) })
    expect((await settle(Promise.all([leading, asked]))).status).toBe('fulfilled')
    expect(probe.runs).toBe(2)
    expect(probe.most, 'holders at once').toBe(1)
  })

  test('the leader runs a refresh itself; a closed leader hands over to the other tab', async () => {
    const two = openTabs(2)
    const leader = await leaderIndex(two)
    let ran = 0
    await settle(two[leader]!.lock.lock(async () => void ran++, { refresh: true }))
    expect(ran).toBe(1)
    two[leader]!.lock.release()
    const other = two[1 - leader]!
    await until(() => other.lock.isLeader())
    await settle(other.lock.lock(async () => void ran++, { refresh: true }))
    expect(ran).toBe(2)
  })

  test('a forged far-ahead state (generation 2^40) is not the generation a follower asks for, nor counts as newer', async () => {
    const shared: Shared = { snapshot: active(4) }
    const two = openTabs(2, shared)
    const leader = await leaderIndex(two)
    const follower = two[1 - leader]!
    // A page of the origin posts a state no tab holds, on the session's channel.
    two[leader]!.channel.post({ type: 'state', snapshot: active(2 ** 40) })
    await advance(50)
    let ranAt: number | undefined
    const asked = follower.lock.lock(async () => void (ranAt = shared.snapshot!.generation), { refresh: true })
    await until(() => two[leader]!.heard.some(m => m.type === 'rotate-request'))
    expect(two[leader]!.heard.find(m => m.type === 'rotate-request')).toMatchObject({ type: 'rotate-request', generation: 4 })
    await advance(2_000)
    expect(ranAt, 'the forged state counted as a newer one').toBeUndefined()
    shared.snapshot = active(5)
    two[leader]!.channel.post({ type: 'state', snapshot: active(5) })
    await settle(asked)
    expect(ranAt).toBe(5)
  })

  test('a follower whose leader never answers fails transiently (ERR_ROTATION_PENDING) after followerLimitMs, asking again each second', async () => {
    const shared: Shared = { snapshot: active(1) }
    const two = openTabs(2, shared)
    const leader = await leaderIndex(two)
    const started = Date.now()
    const result = await settle(two[1 - leader]!.lock.lock(async () => 'ran', { refresh: true }))
    const waited = Date.now() - started
    expect(result.status).toBe('rejected')
    const error = (result as PromiseRejectedResult).reason as Error
    expect(isRotorError(error) && error.code).toBe('ERR_ROTATION_PENDING')
    expect(error.message).toMatch(/did not answer/)
    expect(waited).toBeGreaterThanOrEqual(3_000)
    expect(waited, 'bounded by the follower limit').toBeLessThan(4_000)
    expect(two[leader]!.heard.filter(m => m.type === 'rotate-request').length).toBeGreaterThanOrEqual(3)
  })

  test('the follower limit counts on the monotonic clock: a wall clock set back 10 minutes mid-wait does not stretch it', async () => {
    const two = openTabs(2, { snapshot: active(1) })
    const leader = await leaderIndex(two)
    const started = Date.now()
    const waiting = settle(two[1 - leader]!.lock.lock(async () => 'ran', { refresh: true }))
    await advance(1_000)
    wallShift = -10 * 60_000
    const result = await waiting
    // Before: the deadline was read on the wall clock, and the follower waited 10 minutes and 3 s (settle gives up at 60 s).
    expect(result.status).toBe('rejected')
    expect(isRotorError((result as PromiseRejectedResult).reason) && (result as PromiseRejectedResult).reason.code).toBe('ERR_ROTATION_PENDING')
    expect(Date.now() - started, 'bounded by the follower limit').toBeLessThan(4_000)
  })
})

describe('the page lifecycle', () => {
  test('a leader that freezes hands leadership over; thawed, it rejoins as a follower: still one leader', async () => {
    const two = openTabs(2)
    const leader = await leaderIndex(two)
    two[leader]!.fire('freeze')
    await until(() => two[1 - leader]!.lock.isLeader())
    expect(two[leader]!.lock.isLeader()).toBe(false)
    two[leader]!.fire('resume')
    await advance(10_000)
    expect(leaders(two)).toEqual([two[1 - leader]])
  })

  test('a leader leaving the page (pagehide) hands leadership over', async () => {
    const two = openTabs(2)
    const leader = await leaderIndex(two)
    two[leader]!.fire('pagehide')
    await until(() => two[1 - leader]!.lock.isLeader())
    expect(leaders(two)).toEqual([two[1 - leader]])
  })

  test('a tab that leaves the page mid-claim withdraws its claim: the next tab holds at once, not after the silence limit', async () => {
    // Measured in bench/latency.ts (no Web Locks): a joining tab closed in its claim's window held ten tabs' rotations for 10 s.
    const two = openTabs(2, undefined, { holdLimitMs: 60_000, claimSilentMs: 5_000 })
    const leaving = two[await leaderIndex(two)]!
    const staying = two.find(t => t !== leaving)!
    void leaving.lock.lock(async () => undefined)
    await advance(10)
    leaving.fire('pagehide')
    await advance(0)
    // Gone: the page says nothing more.
    leaving.muted = true
    const started = Date.now()
    let ranAt: number | undefined
    const next = staying.lock.lock(async () => void (ranAt = Date.now()))
    await until(() => ranAt !== undefined, 10_000)
    expect(ranAt! - started, 'held within a claim window or two, not the silence limit').toBeLessThan(500)
    await settle(next)
  })

  test('a tab out of the room (it left the page) never holds on a claim nobody heard; back (pageshow), it rejoins and takes its turn', async () => {
    const two = openTabs(2)
    const away = two[await leaderIndex(two)]!
    const here = two.find(t => t !== away)!
    away.fire('pagehide')
    await advance(0)
    const { probe, hold } = overlapProbe(400)
    let awayRan = false
    const awayLock = away.lock.lock(async () => {
      awayRan = true
      await hold()
    })
    const hereLock = here.lock.lock(hold)
    await settle(hereLock)
    await advance(1_000)
    expect(awayRan, 'held while in no room').toBe(false)
    // Restored from the back/forward cache where no 'resume' fires (Firefox, Safari).
    away.fire('pageshow')
    await settle(Promise.all([awayLock, here.lock.lock(hold)]))
    expect(probe.runs).toBe(3)
    expect(probe.most, 'holders at once').toBe(1)
  })

  test('a leader frozen mid-hold: its claim lapses after the silence limit, not the hold limit, and only then does the next tab hold', async () => {
    const two = openTabs(2, undefined, { holdLimitMs: 60_000, claimSilentMs: 2_000 })
    const leader = await leaderIndex(two)
    let frozenHolder = true
    const held = two[leader]!.lock.lock(() => until(() => !frozenHolder, 120_000))
    await advance(100)
    // Frozen while holding: it keeps its claim, and says nothing more.
    two[leader]!.fire('freeze')
    two[leader]!.muted = true
    const started = Date.now()
    let ranAt: number | undefined
    const next = two[1 - leader]!.lock.lock(async () => void (ranAt = Date.now()))
    await until(() => ranAt !== undefined, 10_000)
    expect(ranAt! - started, 'waited for the claim to lapse').toBeGreaterThanOrEqual(2_000 - 100)
    expect(ranAt! - started, 'not the hold limit').toBeLessThan(5_000)
    await settle(next)
    frozenHolder = false
    await settle(held)
  })
})

describe('what a page of the origin can cost with one forged message (issue 26.9)', () => {
  test('a claim never renewed holds the lock for the silence limit, not the hold limit', async () => {
    const [tab] = openTabs(1, undefined, { holdLimitMs: 60_000, claimSilentMs: 1_000 })
    await leaderIndex([tab!])
    void forger(tab!.name).postMessage({ rotorLock: 1, t: 'claim', id: 'forger', at: 0 })
    await advance(50)
    const started = Date.now()
    const result = await settle(
      tab!.lock.lock(async () => 'ran'),
      10_000,
    )
    expect(result).toEqual({ status: 'fulfilled', value: 'ran' })
    // It did count: the lock waited for the forged claim to lapse.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000 - 100)
  })

  test('a holder past the silence limit still excludes the next one: it answers its claim with `held`', async () => {
    const two = openTabs(2, undefined, { holdLimitMs: 60_000, claimSilentMs: 600 })
    await leaderIndex(two)
    const { probe, hold } = overlapProbe(1_500)
    const first = two[0]!.lock.lock(hold)
    await advance(200)
    await settle(Promise.all([first, two[1]!.lock.lock(hold)]))
    expect(probe.runs).toBe(2)
    expect(probe.most, 'holders at once').toBe(1)
  })

  // Mid-claim, the duplicate makes the leader leave and rejoin at once. Two things keep the other tab out: the rejoin keeps
  // the claim (not withdrawn), and a claim made while out of the room never holds. Either alone passes; both broken: 2 holders.
  test.each([
    { when: 'while the leader holds: it keeps its claim until it is done', after: 100 },
    { when: 'while the leader claims (its claim in its window): it keeps the claim across the rejoin', after: 10 },
  ])('a forged `tell` (a duplicate leader) $when; nobody overlaps', async ({ after }) => {
    const two = openTabs(2)
    const leader = await leaderIndex(two)
    const { probe, hold } = overlapProbe(400)
    const held = two[leader]!.lock.lock(hold)
    await advance(after)
    const forged = forger(two[0]!.name) as unknown as { postInternal(message: unknown): Promise<void> }
    void forged.postInternal({ context: 'leader', action: 'tell', token: 'forged' })
    // Within the first claim's window when it claims (10 + 10 < 50 ms).
    await advance(10)
    await settle(Promise.all([held, two[1 - leader]!.lock.lock(hold)]))
    expect(probe.runs).toBe(2)
    expect(probe.most, 'holders at once').toBe(1)
    // And the origin has a leader again soon after.
    await leaderIndex(two)
  })
})
