/** The reconnect policy of sockets and streams on its own: the backoff's bounds, and when a refusal counts as news. */
import { describe, expect, test } from 'vitest'
import { backoffDelay, proven, Reconnects } from '../../src/socket/reconnect.js'

describe('backoffDelay', () => {
  test('doubles from initial up to max, jittered within the upper half, so it never shrinks', () => {
    const b = { initial: 100, max: 1000 }
    expect([1, 2, 3, 4, 5, 6].map(n => backoffDelay(n, b, () => 0))).toEqual([50, 100, 200, 400, 500, 500])
    expect([1, 2, 3, 4, 5, 6].map(n => backoffDelay(n, b, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000])
    expect(backoffDelay(10_000, b, () => 0.5)).toBe(750)
  })
})

describe('proven', () => {
  test("half the token's life, at most 30 s; no acknowledgement is never proven", () => {
    expect(proven(undefined, null, 1e12)).toBe(false)
    expect(proven(0, 1000, 499)).toBe(false)
    expect(proven(0, 1000, 500)).toBe(true)
    expect(proven(0, 3_600_000, 29_999)).toBe(false)
    expect(proven(0, 3_600_000, 30_000)).toBe(true)
    expect(proven(0, null, 30_000)).toBe(true)
  })

  test('an expiry not after the acknowledgement (clocks that disagree) falls back to 30 s, not to "at once"', () => {
    expect(proven(10_000, 5_000, 10_001)).toBe(false)
    expect(proven(10_000, 10_000, 39_999)).toBe(false)
    expect(proven(10_000, 10_000, 40_000)).toBe(true)
  })
})

describe('Reconnects', () => {
  test('refusals: at once, then backoff, then give up at maxRefusals; each generation reported once; cured() starts over', () => {
    const r = new Reconnects({ initial: 100, max: 1000 }, 3)
    expect(r.refused(5)).toMatchObject({ giveUp: false, refusals: 1, report: true, delay: 0 })
    const second = r.refused(5)
    expect(second).toMatchObject({ giveUp: false, refusals: 2, report: false })
    expect(second.giveUp === false && second.delay).toBeGreaterThanOrEqual(50)
    expect(r.refused(6)).toEqual({ giveUp: true, refusals: 3 })
    r.cured()
    expect(r.refused(7)).toMatchObject({ giveUp: false, refusals: 1, report: true, delay: 0 })
  })

  test("a connection that ends at once starts nothing over; one that lasted 5 s resets failures, half its token's life resets refusals", () => {
    const r = new Reconnects({ initial: 100, max: 1000 }, 2)
    const delays = [r.failed(), r.failed(), r.failed()]
    expect(delays[2]).toBeGreaterThanOrEqual(200)
    // Acknowledged at 0, closed at 10 ms: still failing, still refused once.
    r.refused(1)
    r.ended(0, 60_000, 10)
    expect(r.failed()).toBeGreaterThanOrEqual(400)
    // 5 s up: failures start over; refusals do not (half of a 60 s token is 30 s).
    r.ended(0, 60_000, 5_000)
    expect(r.failed()).toBeLessThanOrEqual(100)
    expect(r.refused(2)).toEqual({ giveUp: true, refusals: 2 })
    r.ended(0, 60_000, 30_000)
    expect(r.refused(3)).toMatchObject({ giveUp: false, refusals: 1 })
  })

  test("the jitter comes from the random source it is given (the platform's in sockets and streams)", () => {
    const r = new Reconnects({ initial: 100, max: 1000 }, 3, () => 0)
    expect([r.failed(), r.failed(), r.failed()]).toEqual([50, 100, 200])
    r.refused(1)
    expect(r.refused(2)).toMatchObject({ giveUp: false, delay: 50 })
  })
})
