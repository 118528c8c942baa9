// The rotation policy and the failure backoff on virtual time: rotate, end or wait, and how long.
import { describe, expect, it } from 'vitest'
import { ClockWatch } from '../../../src/core/clock-watch.js'
import { FailureBackoff, RETRY_AFTER_MAX, RotationPolicy } from '../../../src/core/policy.js'
import { SessionMachine } from '../../../src/core/state.js'
import { RotationPendingError } from '../../../src/errors.js'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, sessionCore, settle, virtualTime } from './virtual.js'

describe('FailureBackoff', () => {
  it('grows with each failure, is bounded at 30 s, and a success resets it', () => {
    const time = virtualTime()
    const backoff = new FailureBackoff({ ...time, random: () => 0.999 })
    const delays = Array.from({ length: 8 }, () => backoff.failed(new Error('down')))
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!)
    expect(delays[0]).toBeLessThanOrEqual(1000)
    expect(Math.max(...delays)).toBeLessThanOrEqual(30_000)
    expect(delays.at(-1)).toBeGreaterThan(29_000)
    backoff.succeeded()
    expect(backoff.backingOff()).toBe(false)
    expect(backoff.failed(new Error('down'))).toBeLessThanOrEqual(1000)
  })

  it('backs off until the delay passes, then tells its listeners once', async () => {
    const time = virtualTime()
    const backoff = new FailureBackoff(time)
    let retries = 0
    backoff.onRetry(() => retries++)
    const delay = backoff.failed(new Error('down'))
    expect(backoff.backingOff()).toBe(true)
    expect(backoff.lastFailure()).toMatchObject({ at: time.now() })
    await time.advance(delay - 1)
    expect(retries).toBe(0)
    await time.advance(1)
    expect(retries).toBe(1)
    expect(backoff.backingOff()).toBe(false)
  })

  it("waits at least a failure's Retry-After, bounded at RETRY_AFTER_MAX; a retryAfter that is no number is ignored", () => {
    const time = virtualTime()
    const backoff = new FailureBackoff({ ...time, random: () => 0 })
    expect(backoff.failed(Object.assign(new Error('503'), { retryAfter: 120_000 }))).toBe(120_000)
    expect(backoff.failed(Object.assign(new Error('503'), { retryAfter: 86_400_000 }))).toBe(RETRY_AFTER_MAX)
    expect(backoff.failed(Object.assign(new Error('503'), { retryAfter: 'soon' }))).toBeLessThanOrEqual(30_000)
    expect(backoff.failed(Object.assign(new Error('503'), { retryAfter: Number.NaN }))).toBeLessThanOrEqual(30_000)
  })

  it('a deferral (budget spent) retries after exactly its wait, without growing the next delay', async () => {
    const time = virtualTime()
    const backoff = new FailureBackoff(time)
    let retries = 0
    backoff.onRetry(() => retries++)
    backoff.deferred(new Error('budget'), 5000)
    await time.advance(4999)
    expect(retries).toBe(0)
    await time.advance(1)
    expect(retries).toBe(1)
    expect(backoff.failed(new Error('down'))).toBeLessThanOrEqual(1000)
  })
})

describe('RotationPolicy', () => {
  function setup(options: { rotation?: 'timer' | 'request'; idle?: boolean } = {}) {
    const time = virtualTime()
    const server = fakeServer(time)
    const shared = createMemoryCoordinator()
    const tab = sessionCore(time, server, shared, { rotation: options.rotation, idle: () => options.idle ?? false })
    return { time, server, shared, tab }
  }

  it('waits while a failure is backed off, and rotates once the backoff runs out', async () => {
    const { time, server, tab } = setup()
    await tab.start()
    const failing = Promise.reject(new TypeError('network'))
    failing.catch(() => undefined)
    server.answerWith(() => failing)
    tab.policy.requestsWaiting()
    await settle()
    expect(server.presented).toHaveLength(1)
    server.answerWith(undefined)
    tab.policy.requestsWaiting()
    tab.policy.requestsWaiting()
    await settle()
    expect(server.presented).toHaveLength(1)
    await time.advance(1000)
    // request mode: the retry rotates only for what still waits (nobody here).
    expect(server.presented).toHaveLength(1)
    tab.policy.requestsWaiting()
    await settle()
    expect(server.presented).toHaveLength(2)
  })

  it('due: timer mode rotates, an idle session does not, request mode does not', async () => {
    for (const [rotation, idle, calls] of [
      ['timer', false, 1],
      ['timer', true, 0],
      ['request', false, 0],
    ] as const) {
      const { server, tab } = setup({ rotation, idle })
      await tab.start()
      tab.policy.due()
      await settle()
      expect(server.presented, `${rotation} idle=${idle}`).toHaveLength(calls)
    }
  })

  it('due with both tokens dead ends the session without a refresh', async () => {
    const { time, server, tab } = setup({ rotation: 'timer' })
    await tab.start()
    time.jump(11 * 60_000) // past the RT's expiry, no timer run
    tab.policy.due()
    await settle()
    expect(server.presented).toEqual([])
    expect(tab.machine.snapshot).toMatchObject({ status: 'signed-out', reason: 'expired' })
  })

  it('end() asks the server instead when the wall clock jumped', async () => {
    const time = virtualTime()
    const machine = new SessionMachine({ now: time.now, leeway: undefined })
    const watch = new ClockWatch(time.now, time.monotonic)
    const calls: string[] = []
    const rotator = {
      rotateFrom: async () => void calls.push('rotate'),
      endOrReauthenticate: async () => void calls.push('end'),
    }
    const policy = new RotationPolicy({ view: machine, watch, rotation: 'timer', isIdle: () => false, rotator, backoff: new FailureBackoff(time) })
    await policy.end()
    time.jump(3_600_000)
    watch.jumped()
    await policy.end()
    expect(calls).toEqual(['end', 'rotate'])
  })

  it('a rotation that failed before any refresh (no leader answered) goes again after a backoff (sim `--extended --no-locks` seed 100878)', async () => {
    for (const rotation of ['timer', 'request'] as const) {
      const time = virtualTime()
      const machine = new SessionMachine({ now: time.now, leeway: undefined })
      const at = time.now()
      machine.enter({ generation: 1, status: 'active', issuedAt: at, accessExpiresAt: at + 60_000, refreshExpiresAt: at + 600_000 }, 'local', 'login')
      const backoff = new FailureBackoff(time)
      const calls: number[] = []
      // The leader lock's follower wait ran out (the leader frozen, no tab rotated): the first rotation fails so, then one goes.
      const rotator = {
        rotateFrom: async () => {
          calls.push(time.now())
          if (calls.length === 1) throw new RotationPendingError('rotor-auth: no tab rotated the session (the leading tab did not answer)')
        },
        endOrReauthenticate: async () => undefined,
      }
      const policy = new RotationPolicy({ view: machine, watch: new ClockWatch(time.now, undefined), rotation, isIdle: () => false, rotator, backoff })
      policy[rotation === 'timer' ? 'due' : 'requestsWaiting']()
      await settle()
      expect(backoff.backingOff(), rotation).toBe(true)
      await time.advance(30_000)
      // Before: nothing asked again, and a timer-mode session without requests let its AT die. (Request mode: the retry
      // pumps the gate, whose waiting requests ask again; none wait here.)
      expect(calls, rotation).toHaveLength(rotation === 'timer' ? 2 : 1)
      expect(backoff.backingOff(), rotation).toBe(false)
    }
  })

  it('a retry is of the generation that failed: once a peer rotated past it, it rotates nothing (sim `--extended --no-locks` seeds 30121, 37912)', async () => {
    for (const peerRotates of [false, true]) {
      const time = virtualTime()
      const server = fakeServer(time)
      const shared = createMemoryCoordinator()
      const [a, b] = [sessionCore(time, server, shared, { rotation: 'timer' }), sessionCore(time, server, shared, { rotation: 'timer' })]
      await a.start()
      await settle()
      const generation = a.machine.snapshot.generation
      // What the rotator does when the refresh budget is spent: the next attempt in 5 s.
      a.backoff.deferred(new Error('budget'), 5000)
      if (peerRotates) await b.policy.rotate(generation)
      await settle()
      expect(a.machine.snapshot.generation).toBe(generation + (peerRotates ? 1 : 0))
      const presented = server.presented.length
      await time.advance(5000)
      // Without a newer generation the deferral's end rotates (timer mode); with one, that young generation is left alone.
      expect(server.presented, `peer rotates: ${peerRotates}`).toHaveLength(presented + (peerRotates ? 0 : 1))
    }
  })

  it("a peer's rotate-request rotates once, is served again after a failure's backoff, and not once a newer generation exists", async () => {
    const { time, server, tab } = setup()
    await tab.start()
    const generation = tab.machine.snapshot.generation
    const failing = Promise.reject(new TypeError('network'))
    failing.catch(() => undefined)
    server.answerWith(() => failing)
    tab.policy.peerAsked(generation)
    tab.policy.peerAsked(generation)
    await settle()
    expect(server.presented).toHaveLength(1)
    server.answerWith(undefined)
    await time.advance(1000)
    expect(server.presented).toHaveLength(2)
    expect(tab.machine.snapshot.generation).toBe(generation + 1)
    tab.policy.peerAsked(generation)
    await time.advance(60_000)
    expect(server.presented).toHaveLength(2)
  })
})
