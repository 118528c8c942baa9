/**
 * A server that floors its JWT times to whole seconds (as most do) and refuses an AT from its
 * `exp` second on: the session must never send an AT it could know was dead (issue 32: 20 of
 * 2,400 bearer calls were answered 401 and replayed). Virtual time; the server is a fetch.
 */
import { afterEach, expect, test } from 'vitest'
import { createSession, type Session } from '../../src/index.js'
import type { Timer } from '../../src/platform/types.js'

/**
 * An unsigned-looking JWT built at once: signing (WebCrypto) takes real turns during which the
 * virtual clock would move on, and the session reads only the claims.
 */
const jwt = (claims: Record<string, number>) =>
  ['{"alg":"HS256","typ":"JWT"}', JSON.stringify(claims), 'signature'].map(part => Buffer.from(part).toString('base64url')).join('.')
/** The AT lives 2 s on the server: `exp = floor(mint) + 2`. */
const AT_SECONDS = 2

/** Virtual time whose timers run only as the test advances it. */
function clock(start: number) {
  let t = start
  const timers = new Set<{ at: number; fn: () => void }>()
  return {
    now: () => t,
    after(ms: number, fn: () => void): Timer {
      const timer = { at: t + Math.max(0, ms), fn }
      timers.add(timer)
      return { cancel: () => void timers.delete(timer) }
    },
    async advance(ms: number) {
      const end = t + ms
      for (;;) {
        await new Promise(resolve => setImmediate(resolve))
        const next = [...timers].filter(x => x.at <= end).sort((a, b) => a.at - b.at)[0]
        if (!next) break
        timers.delete(next)
        t = Math.max(t, next.at)
        next.fn()
      }
      t = end
      await new Promise(resolve => setImmediate(resolve))
    },
  }
}

/** The server: whole-second iat/exp, an AT refused from its `exp` second on, each RT once. */
function wholeSecondServer(now: () => number) {
  const seen = { refreshes: 0, api200: 0, api401: 0, reused: 0 }
  const alive = new Map<string, number>()
  let live: string | undefined
  let n = 0
  function mint(): { accessToken: string; refreshToken: string } {
    const iat = Math.floor(now() / 1000)
    const exp = iat + AT_SECONDS
    const accessToken = jwt({ n: ++n, iat, exp })
    const refreshToken = jwt({ n, iat, exp: iat + 3600 })
    alive.set(accessToken, exp * 1000)
    live = refreshToken
    return { accessToken, refreshToken }
  }
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    if (request.url.endsWith('/refresh')) {
      seen.refreshes++
      const { refreshToken } = (await request.json()) as { refreshToken: string }
      if (refreshToken !== live) {
        seen.reused++
        return new Response('reused', { status: 401 })
      }
      return Response.json(mint(), { status: 201 })
    }
    const at = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? ''
    const expiresAt = alive.get(at)
    if (expiresAt === undefined || now() >= expiresAt) {
      seen.api401++
      return new Response('expired', { status: 401 })
    }
    seen.api200++
    return new Response('ok')
  }
  return { seen, mint, fetch }
}

let session: Session | undefined
afterEach(() => session?.dispose())

test('whole-second JWT times: a call every 37 ms for 30 s, refreshes minted at every fraction of a second, and the server answers no 401', async () => {
  // Minted 0.9 s into its second: the AT dies 1.1 s later, not 2 s.
  const time = clock(1_900_000_000_900)
  const server = wholeSecondServer(time.now)
  session = createSession({
    scope: 'https://api.test/api',
    transport: 'bearer',
    rotation: 'request',
    crossTab: false,
    refresh: { url: 'https://api.test/refresh', style: 'json' },
    fetch: server.fetch,
    platform: { now: time.now, monotonic: time.now, after: time.after },
  })
  await session.start(server.mint())
  const statuses: number[] = []
  const errors: string[] = []
  const pending = new Set<Promise<void>>()
  for (let elapsed = 0; elapsed < 30_000; elapsed += 37) {
    const call: Promise<void> = session.fetch('https://api.test/api/ping').then(
      response => void statuses.push(response.status),
      (error: { code?: string }) => void (statuses.push(0), errors.push(String(error.code))),
    )
    pending.add(call)
    void call.finally(() => pending.delete(call))
    await time.advance(37)
  }
  // The last calls settle within a few turns (bounded: a hang fails the test below).
  for (let i = 0; i < 200 && pending.size > 0; i++) await time.advance(10)
  const calls = statuses.length
  const failed = statuses.filter(status => status !== 200).length
  expect(pending.size).toBe(0)
  expect(server.seen.api401).toBe(0)
  expect(failed).toBe(0)
  expect(server.seen.api200).toBe(calls)
  expect(server.seen.reused).toBe(0)
  // Rotating a little early costs refreshes, not 401s: at most one per AT second lost.
  expect(server.seen.refreshes).toBeGreaterThan(0)
})
