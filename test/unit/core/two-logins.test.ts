// Two start()s at once in one session on the default coordinator: the one called last is the session, whichever grant is read first (virtual time).
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, isRotorError, type Session } from '../../../src/index.js'
import { settle, virtualTime } from './virtual.js'

/** A login answer whose body arrives only when `deliver` is called (a slow network). */
function slowLogin(body: object) {
  let deliver: (() => void) | undefined
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      deliver = () => (controller.enqueue(new TextEncoder().encode(JSON.stringify(body))), controller.close())
    },
  })
  return { response: new Response(stream, { headers: { 'content-type': 'application/json' } }), deliver: () => deliver?.() }
}

/** The auth server: the RTs presented to /refresh, each answered with a new pair. */
function authServer() {
  const presented: string[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const { refreshToken } = (await request.json().catch(() => ({}))) as { refreshToken?: string }
    presented.push(refreshToken ?? 'cookie')
    return Response.json({ accessToken: `at-r${presented.length}`, refreshToken: `rt-r${presented.length}`, expiresIn: 60, refreshExpiresIn: 600 }, { status: 201 })
  }
  return { presented, fetch }
}

let session: Session | undefined
afterEach(() => session?.dispose())

describe.each(['bearer', 'cookie'] as const)('two start()s at once (%s, default coordinator)', transport => {
  function setup() {
    const time = virtualTime()
    const server = authServer()
    session = createSession({
      scope: 'https://api.test/api',
      transport,
      rotation: 'request',
      crossTab: false,
      refresh: transport === 'bearer' ? { url: 'https://api.test/refresh', style: 'json' } : { url: 'https://api.test/authn/refresh' },
      fetch: server.fetch,
      platform: { now: time.now, monotonic: time.monotonic, after: time.after, random: time.random, on: time.on },
    })
    // Told apart by their lifetimes (the cookie transport keeps no token).
    const grant = (name: string, expiresIn: number) => ({ accessToken: `at-${name}`, refreshToken: `rt-${name}`, expiresIn, refreshExpiresIn: 600 })
    return { time, server, session, grant }
  }

  it('the later one is the session even when the earlier one is read after it: the earlier settles ERR_LOGIN_SUPERSEDED, its pair never used', async () => {
    const { time, server, session, grant } = setup()
    const earlier = slowLogin(grant('older', 30))
    const first = session.start(earlier.response).then(
      () => 'resolved',
      (error: unknown) => (isRotorError(error) ? error.code : String(error)),
    )
    await settle()
    await session.start(grant('later', 45))
    expect(session.state).toMatchObject({ status: 'active', generation: 1, accessExpiresAt: time.now() + 45_000 })
    earlier.deliver()
    // Before: the earlier body, read last, was published at generation 2 over the later login.
    expect(await first).toBe('ERR_LOGIN_SUPERSEDED')
    await settle()
    expect(session.state).toMatchObject({ status: 'active', generation: 1, accessExpiresAt: time.now() + 45_000 })
    if (transport === 'bearer') await expect(session.accessToken()).resolves.toBe('at-later')
    // The next refresh presents the later login's RT.
    await session.rotate()
    expect(server.presented).toEqual([transport === 'bearer' ? 'rt-later' : 'cookie'])
    expect(session.state.generation).toBe(2)
  })

  it('read in the order called (the first body in before the second start): both settle, the later one under the higher generation', async () => {
    const { session, grant, time } = setup()
    const generations: number[] = []
    session.on('change', () => void (session.state.status === 'active' && generations.push(session.state.generation)))
    const earlier = slowLogin(grant('older', 30))
    const first = session.start(earlier.response)
    await settle()
    earlier.deliver()
    await settle()
    const second = session.start(grant('later', 45))
    await Promise.all([first, second])
    expect(generations).toEqual([1, 2])
    expect(session.state).toMatchObject({ status: 'active', generation: 2, accessExpiresAt: time.now() + 45_000 })
  })
})
