/**
 * Timer mode whose refresh waits to go out (a browser's six connections per host all busy)
 * until after the AT expired: the calls made meanwhile wait for it, and its answer is one
 * usable AT, not a clock skew nor a second refresh.
 */
import { describe, expect, vi } from 'vitest'
import type { Session, SessionOptions } from '../../src/index.js'
import { serverTest } from '../helpers/fixtures.js'
import { eventSource } from '../helpers/virtual-time.js'

const AT = 2_000
const test = serverTest({ accessTokenTtl: AT, refreshTokenTtl: 60_000 })
/**
 * How long the refresh still waits, once the AT expired, before it reaches the server (it has
 * waited 500 ms by then). A bearer JWT's lifetime counts from the send (no round trip proves the
 * server minted it later), so its whole wait stays under the AT's remaining life plus the
 * rotation point's margin; a cookie grant's expiry is the server's own, on its clock.
 */
const QUEUED_MS = { cookie: 2_000, bearer: 800 }

/** A cross-origin answer whose server does not expose `Date`: the session reads the server's clock off the JWTs' `iat`. */
function withoutDate(response: Response): Response {
  const headers = new Headers(response.headers)
  headers.delete('date')
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
}

/**
 * `send`, except that the first refresh call waits until `release()` and then reaches the
 * server `queuedMs` later (on the test's clock), as behind a browser's six busy connections;
 * a call to `/api/early` waits in the same queue, ahead of it.
 */
function refreshQueue(advance: (ms: number) => void, queuedMs: number, hideDate: boolean) {
  let release!: () => void
  const released = new Promise<void>(resolve => (release = resolve))
  let queued = 0
  const wrap =
    (send: typeof fetch): typeof fetch =>
    (input, init) => {
      const url = String(input instanceof Request ? input.url : input)
      if (url.includes('/api/early')) return released.then(() => send(input, init))
      if (!url.includes('/refresh') || ++queued > 1) return send(input, init)
      return released.then(() => (advance(queuedMs), send(input, init))).then(r => (hideDate ? withoutDate(r) : r))
    }
  return { wrap, release, queued: () => queued }
}

describe('a timer rotation whose refresh is queued past the AT expiry', () => {
  test.for(['cookie', 'bearer'] as const)(
    '%s: calls made meanwhile wait, one sent before is replayed once after it; one refresh, no clock skew',
    async (transport, { env, clock }) => {
      const queue = refreshQueue(clock.advance, QUEUED_MS[transport], transport === 'bearer')
      // The scheduler's timers run on real time; a wake-up event makes it look at the test's clock.
      const wake = eventSource()
      const options: Partial<SessionOptions> = { rotation: 'timer', now: clock.now, platform: { on: wake.on } }
      let session: Session
      if (transport === 'cookie') session = (await env.browser(options, queue.wrap)).session
      else session = await env.bearer({ ...options, fetch: queue.wrap(fetch) })
      const skews: unknown[] = []
      session.on('clock-skew', skew => skews.push(skew))

      // Sent with a live AT, it reaches the server after the AT expired: a 401, replayed once.
      const early = session.fetch(`${env.url}/api/early`)
      clock.advance(AT * 0.8)
      wake.fire('focus')
      await vi.waitFor(() => expect(queue.queued()).toBe(1))
      // The refresh is overdue: the AT expired while it waits to go out.
      clock.advance(AT * 0.2 + 100)
      const calls = [1, 2, 3].map(i => session.fetch(`${env.url}/api/${i}`))
      queue.release()
      expect((await Promise.all([early, ...calls])).map(r => r.status)).toEqual([200, 200, 200, 200])
      expect(session.state.generation).toBe(2)
      // The new AT is usable: the next call goes without another refresh.
      expect((await session.fetch(`${env.url}/api/4`)).status).toBe(200)
      expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0, api401: 1, api200: 5 })
      // The early call and the refresh left the queue together; everything after went with the new AT.
      const seen = env.server.log.filter(e => e.route !== 'login').map(e => `${e.route} ${e.status}`)
      expect(seen.slice(0, 2).sort()).toEqual(['api 401', 'refresh 201'])
      expect(seen.slice(2)).toEqual(Array(5).fill('api 200'))
      expect(skews).toEqual([])
    },
  )
})
