/**
 * The Redis lock's decisions on virtual time, against an in-memory stand-in for its scripts
 * (fake-redis.ts): acquire, renew, release, fence, the lease a holder is handed, backoff while
 * Redis is unreachable, the quiet period after a data loss, and close. No server, no sleep.
 */
import { describe, expect, test } from 'vitest'
import type { Lease } from '../../src/coordinator/types.js'
import { isRotorError } from '../../src/index.js'
import { RedisLock } from '../../src/redis/lock.js'
import { keysOf, RELEASED } from '../../src/redis/scripts.js'
import { FakeRedis, settle, VirtualTime } from './fake-redis.js'

const keys = keysOf('job')

/** Redis, time and `n` members of one name, each member's release notices reaching the others (the bus). */
function world(n: number, lease = 1_000) {
  const time = new VirtualTime()
  const redis = new FakeRedis(() => time.now)
  const lives = Array.from({ length: n }, () => new AbortController())
  const members = lives.map(
    (life, i) =>
      new RedisLock({
        run: (script, k, args) => redis.eval(script, { keys: k, arguments: args.map(String) }),
        keys,
        lease,
        id: `m${i}`,
        platform: time.platform,
        signal: life.signal,
      }),
  )
  redis.onPublish = (channel, message) => {
    if (channel === keys.channel && message === RELEASED) for (const m of members) m.wake()
  }
  /** Takes the lock on `member` and holds it until the returned `release` is called. */
  function hold(member: RedisLock) {
    const state: { lease?: Lease; release?: () => void; done: Promise<void> } = { done: Promise.resolve() }
    state.done = member.run(
      lease =>
        new Promise<void>(resolve => {
          state.lease = lease
          state.release = resolve
        }),
    )
    return state
  }
  return { time, redis, lives, members, hold }
}

describe('the Redis lock on virtual time', () => {
  test('acquire: one holder at a time; each grant has the next fencing token; a waiter enters on the release notice, not at its next poll', async () => {
    const { time, redis, members, hold } = world(2)
    const [a, b] = members as [RedisLock, RedisLock]
    const first = hold(a)
    await time.advance(0)
    expect(first.lease?.held()).toBe(true)
    expect(redis.get(keys.lock)).toBe('m0:1:1')
    const second = hold(b)
    await time.advance(600)
    // B waits (polling at most every 250 ms), A keeps the lock.
    expect(second.lease).toBeUndefined()
    const polls = redis.calls.filter(c => c === 'ACQUIRE').length
    expect(polls).toBeGreaterThanOrEqual(3)
    expect(polls).toBeLessThanOrEqual(2 + 600 / 125)
    first.release!()
    await time.advance(0)
    // No time passed: the release notice woke B.
    expect(second.lease?.held()).toBe(true)
    expect(redis.get(keys.lock)).toBe('m1:1:2')
    expect(redis.get(keys.fence)).toBe('2')
    second.release!()
    await Promise.all([first.done, second.done])
  })

  test('renew: a holder that runs 5 leases keeps the lock and its lease; nobody else enters', async () => {
    const { time, redis, members, hold } = world(2, 300)
    const [a, b] = members as [RedisLock, RedisLock]
    const first = hold(a)
    await time.advance(0)
    const second = hold(b)
    for (let t = 0; t < 1_500; t += 50) {
      await time.advance(50)
      expect(first.lease!.held()).toBe(true)
      expect(redis.get(keys.lock)).toBe('m0:1:1')
      expect(second.lease).toBeUndefined()
    }
    // Every third of the lease.
    expect(redis.calls.filter(c => c === 'HOLD').length).toBeGreaterThanOrEqual(14)
    first.release!()
    await time.advance(0)
    expect(second.lease?.held()).toBe(true)
    second.release!()
  })

  test('release: compare-and-delete, and the lease says so after', async () => {
    const { time, redis, members } = world(1)
    let lease!: Lease
    await members[0]!.run(async l => void (lease = l))
    await time.advance(0)
    expect(redis.get(keys.lock)).toBeNull()
    expect(redis.published).toEqual([{ channel: keys.channel, message: RELEASED }])
    expect(lease.held()).toBe(false)
    // A holder whose lock another owner took cannot release it.
    await members[0]!.run(async () => void redis.set(keys.lock, 'other:9', 10_000))
    await time.advance(0)
    expect(redis.get(keys.lock)).toBe('other:9')
  })

  test('the lease: a holder paused past 80% of its lease is told it may have lost the lock, though Redis still holds it', async () => {
    const { time, redis, members, hold } = world(1, 1_000)
    const h = hold(members[0]!)
    await time.advance(0)
    time.pause(700)
    expect(h.lease!.held()).toBe(true)
    time.pause(150)
    // 850 ms without a renewal (its timers did not run): Redis's lease started after the
    // grant was sent, but this process cannot tell by how much.
    expect(redis.get(keys.lock)).toBe('m0:1:1')
    expect(h.lease!.held()).toBe(false)
    // Resumed: the overdue renewal finds the lock still ours and vouches for it again.
    await time.advance(0)
    expect(h.lease!.held()).toBe(true)
    h.release!()
  })

  test('fence: a paused holder whose lock expired and went to another member learns it at its next renewal, and cannot release the new holder', async () => {
    const { time, redis, members, hold } = world(2, 1_000)
    const [a, b] = members as [RedisLock, RedisLock]
    const first = hold(a)
    await time.advance(0)
    time.pause(1_001)
    // A is stopped; B (another process) is not: the lock expired, B takes it with fence 2.
    const second = hold(b)
    await settle()
    expect(second.lease?.held()).toBe(true)
    expect(redis.get(keys.lock)).toBe('m1:1:2')
    expect(first.lease!.held()).toBe(false)
    await time.advance(0) // A resumes: its overdue renewal runs
    expect(first.lease!.held()).toBe(false)
    first.release!()
    await time.advance(0)
    expect(redis.get(keys.lock)).toBe('m1:1:2')
    expect(second.lease!.held()).toBe(true)
    second.release!()
  })

  test('Redis unreachable: attempts back off from 200 ms to 5 s (jittered), and the lock is taken once Redis answers', async () => {
    const { time, redis, members } = world(1)
    redis.down = true
    const attempts: number[] = []
    const eval0 = redis.eval.bind(redis)
    redis.eval = async (script, options) => {
      attempts.push(time.now)
      return eval0(script, options)
    }
    let entered = false
    const run = members[0]!.run(async () => void (entered = true))
    await time.advance(30_000)
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!)
    // random() is 0.5 here: three quarters of 200, 400, 800… up to 5,000.
    expect(gaps.slice(0, 6)).toEqual([150, 300, 600, 1_200, 2_400, 3_750])
    expect(Math.max(...gaps)).toBe(3_750)
    expect(entered).toBe(false)
    redis.down = false
    await time.advance(5_000)
    expect(entered).toBe(true)
    await run
  })

  test('after Redis lost its data: nobody takes the lock for one lease; the holder takes its vanished lock back', async () => {
    const { time, redis, members, hold } = world(2, 1_000)
    const [a, b] = members as [RedisLock, RedisLock]
    await Promise.all([a.markDataSet(), b.markDataSet()])
    const first = hold(a)
    await time.advance(0)
    redis.flush()
    // B notices first (a reconnect): the quiet period starts.
    await b.markDataSet()
    const second = hold(b)
    await time.advance(300)
    expect(second.lease).toBeUndefined()
    // A's renewal re-creates its lock (no later grant exists).
    await a.renew()
    expect(redis.get(keys.lock)).toBe('m0:1:1')
    expect(first.lease!.held()).toBe(true)
    first.release!()
    await time.advance(800)
    expect(second.lease?.held()).toBe(true)
    expect(redis.get(keys.fence)).toBe('2')
    second.release!()
  })

  test('close: a waiter rejects (coded), the held lock is released and its lease turns false', async () => {
    const { time, redis, lives, members, hold } = world(2)
    const [a, b] = members as [RedisLock, RedisLock]
    const first = hold(a)
    await time.advance(0)
    const waiting = b.run(async () => 'never')
    await time.advance(100)
    lives[1]!.abort()
    const error = await waiting.catch((e: unknown) => e)
    expect(isRotorError(error) && error.code).toBe('ERR_COORDINATOR_CLOSED')
    lives[0]!.abort()
    await time.advance(0)
    expect(first.lease!.held()).toBe(false)
    expect(redis.get(keys.lock)).toBeNull()
    await expect(a.run(async () => undefined)).rejects.toMatchObject({ code: 'ERR_COORDINATOR_CLOSED' })
    first.release!()
  })
})
