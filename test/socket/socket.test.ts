/**
 * `rotor-auth/socket` against the reference server's real WebSocket face (`ws`, 127.0.0.1):
 * every assertion is on what the server counted (subscriptions refused for lack of auth,
 * refreshes, reused RTs, deliveries, connections) or on the order of its log.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createSocket } from '../../src/socket/index.js'
import type { CookieFetch } from '../../src/testing/index.js'
import { SessionExpiredError } from '../../src/index.js'
import { countTimers, manualClock, sleep, waitFor } from '../helpers/index.js'
import WebSocket from 'ws'
import { bearerAuth, feed, NodeWebSocket, startSocketEnv, type SocketEnv } from './helpers.js'

const AT = 1000
let env: SocketEnv | undefined

afterEach(async () => {
  await env?.close()
  env = undefined
})

const CHANNELS = ['a', 'b', 'c', 'd', 'e']

describe('a feed across AT lifetimes', () => {
  test.each([
    ['the new token over the open socket (onRotate)', true],
    ['a reconnect at a quiet moment (no onRotate)', false],
  ] as const)(
    '10 AT lifetimes of 1 s, 5 subscriptions, %s: none refused, every message once, refreshes within 1.3x the minimum, no reuse',
    async (_label, inBand) => {
      env = await startSocketEnv({ accessTokenTtl: AT, refreshTokenTtl: 60_000 })
      const { server, face } = env
      // The server cuts a socket when its AT expires: the timer rotates at 0.85 of a lifetime
      // and the socket hands the new token over (or reconnects) within the 150 ms left.
      const rotateAt = 0.85
      const session = await env.bearer({ rotation: 'timer', rotateAt })
      const startedAt = Date.now()
      // onRotate answering undefined: no message can carry the token, so the socket reconnects.
      const f = feed(env, session, CHANNELS, inBand ? {} : { onRotate: () => undefined, quiet: 20 })
      await waitFor(() => face.stats.subscribes === CHANNELS.length)

      const published = new Map<string, number>()
      // Ten lifetimes and a half: the minimum (below) is then not on an edge of ceil().
      const duration = 10.5 * AT
      let i = 0
      while (Date.now() - startedAt < duration) {
        const channel = CHANNELS[i++ % CHANNELS.length]!
        published.set(channel, face.publish(channel, { i }))
        await sleep(10)
      }
      const elapsed = Date.now() - startedAt
      const granted = server.stats.refreshGranted
      await waitFor(() => expect(f.received).toEqual(f.expected(published)), { timeout: 5000 })

      // Minimum: each AT lives AT ms and the login's covers the first, so the run needs
      // ceil(elapsed / AT) - 1 refreshes at the very least.
      const minimum = Math.ceil(elapsed / AT) - 1
      const total = [...published.values()].reduce((a, b) => a + b, 0)
      console.log(
        `[socket] ${inBand ? 'onRotate' : 'reconnect'}: ${elapsed} ms, refreshes ${granted} (minimum ${minimum}), published ${total}, ` +
          `deliveries ${face.stats.deliveries}, connections ${face.stats.connections}, auths ${face.stats.auths}, reauths ${face.stats.reauths}, ` +
          `subscribes ${face.stats.subscribes}, closed 4401 ${face.stats.closedUnauthorized}`,
      )
      // On a loaded machine a hand-over can miss the 150 ms before the old AT expires: the
      // server then closes 4401 and the socket reconnects. That costs a connection, never a
      // refused subscription nor a refresh (the socket reports the generation it had).
      const cut = face.stats.closedUnauthorized
      expect(face.stats.subscribeRefused).toBe(0)
      expect(face.stats.authRefused).toBe(0)
      expect(server.stats.reusedRefused).toBe(0)
      expect(server.stats.refreshRefused).toBe(0)
      expect(granted).toBeGreaterThanOrEqual(minimum)
      expect(granted).toBeLessThanOrEqual(Math.floor(1.3 * minimum))
      if (inBand) {
        // One connection, plus one per cut; every other rotation handed over on the open socket.
        expect(face.stats.connections).toBe(1 + cut)
        expect(face.stats.reauths).toBeGreaterThanOrEqual(granted - 1 - cut)
      } else {
        // A connection per generation, each subscribing after its authentication.
        expect(face.stats.connections).toBeGreaterThanOrEqual(granted)
        expect(face.stats.subscribes).toBe(CHANNELS.length * face.stats.connections)
      }
    },
    30_000,
  )
})

describe('cookie transport in Node', () => {
  test("the handshake carries the jar's AT cookie; each rotation reconnects before the old AT runs out; accessToken() is a TypeError", async () => {
    env = await startSocketEnv({ accessTokenTtl: AT, refreshTokenTtl: 60_000 })
    const { server, face } = env
    const { session, fetch: jar } = await env.browser({ rotation: 'timer', rotateAt: 0.85 })
    await expect(session.accessToken()).rejects.toThrow(/accessToken\(\) needs transport 'bearer'/)
    const cookieUrl = face.url!.replace(/^ws/, 'http')
    const init = async () => ({ headers: { cookie: await (jar as CookieFetch).cookieString(cookieUrl) } })
    const f = feed(env, session, ['x'], { quiet: 20 }, { init })
    await waitFor(() => face.stats.subscribes === 1)
    let published = 0
    const startedAt = Date.now()
    while (Date.now() - startedAt < 4.5 * AT) {
      published = face.publish('x', published)
      await sleep(10)
    }
    await waitFor(() => expect(f.received.get('x')).toEqual(Array.from({ length: published }, (_, i) => i + 1)))
    const granted = server.stats.refreshGranted
    expect(granted).toBeGreaterThanOrEqual(4)
    expect(face.stats).toMatchObject({ subscribeRefused: 0, authRefused: 0 })
    // A connection per generation at least (a reconnect the load made late is cut with 4401
    // and reconnects once more).
    expect(face.stats.connections).toBeGreaterThanOrEqual(granted + 1)
    expect(server.stats.reusedRefused).toBe(0)
  }, 20_000)
})

describe('re-authenticate before resuming', () => {
  test('the server drops every connection while the AT has expired: refresh first, then the new connection subscribes', async () => {
    const clock = manualClock()
    env = await startSocketEnv({ accessTokenTtl: 60_000, now: clock.now })
    const { server, face } = env
    const session = await env.bearer({ rotation: 'request', now: clock.now })
    feed(env, session, CHANNELS, { backoff: { initial: 20, max: 50 } })
    await waitFor(() => face.stats.subscribes === CHANNELS.length)
    expect(server.stats.refreshCalls).toBe(0)

    // In one tick: the AT expires and the connection drops (the face's expiry check never ran).
    clock.advance(61_000)
    expect(face.drop()).toBe(1)
    await waitFor(() => face.stats.subscribes === 2 * CHANNELS.length)

    const refresh = server.log.findIndex(e => e.route === 'refresh' && e.status === 201)
    expect(refresh).toBeGreaterThanOrEqual(0)
    const second = face.log.find(e => e.kind === 'connect' && e.connection > 1)!
    const resubscribes = face.log.filter(e => e.kind === 'subscribe' && e.connection === second.connection)
    expect(resubscribes).toHaveLength(CHANNELS.length)
    // The log says `refresh` before the new connection even opened, so before any subscribe.
    expect(second.httpIndex).toBeGreaterThan(refresh)
    for (const s of resubscribes) expect(s.httpIndex).toBeGreaterThan(refresh)
    expect(face.stats).toMatchObject({ subscribeRefused: 0, authRefused: 0, closedUnauthorized: 0, connections: 2 })
    expect(server.stats).toMatchObject({ refreshGranted: 1, reusedRefused: 0 })
  })

  test('ready() during a refresh outage waits, then resolves; the socket connects only after the refresh', async () => {
    const clock = manualClock()
    env = await startSocketEnv({ accessTokenTtl: 60_000, now: clock.now })
    const { server, face } = env
    const session = await env.bearer({ rotation: 'request', now: clock.now, refreshRetries: 0 })
    clock.advance(61_000)
    server.fault('refresh', { status: 503, times: 2 })
    let settled = false
    const ready = session.ready().finally(() => (settled = true))
    feed(env, session, CHANNELS)
    // Both faulted refreshes answered: ready() is still waiting, and nothing connected.
    await waitFor(() => server.stats.faults === 2, { timeout: 10_000 })
    expect(settled).toBe(false)
    expect(face.stats.connections).toBe(0)
    await ready
    expect(server.stats).toMatchObject({ refreshCalls: 3, refreshGranted: 1, reusedRefused: 0 })
    await waitFor(() => face.stats.subscribes === CHANNELS.length, { timeout: 10_000 })
    const granted = server.log.findIndex(e => e.route === 'refresh' && e.status === 201)
    expect(face.log.find(e => e.kind === 'connect')!.httpIndex).toBeGreaterThan(granted)
    expect(face.stats).toMatchObject({ connections: 1, subscribeRefused: 0, authRefused: 0 })
  }, 20_000)

  test('ready({ signal }) stops waiting when aborted; a socket closed while it waits never connects', async () => {
    const clock = manualClock()
    env = await startSocketEnv({ accessTokenTtl: 60_000, now: clock.now })
    const { server, face } = env
    const session = await env.bearer({ rotation: 'request', now: clock.now, refreshRetries: 0 })
    clock.advance(61_000)
    server.fault('refresh', { hang: true })
    const controller = new AbortController()
    const waiting = session.ready({ signal: controller.signal })
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: face.url!, ...bearerAuth })
    await waitFor(() => server.stats.refreshCalls === 1)
    socket.close()
    controller.abort(new Error('gone'))
    await expect(waiting).rejects.toThrow('gone')
    // The refresh comes through after all: the closed socket stays closed.
    server.releaseHung()
    await session.ready()
    expect(server.stats.refreshGranted).toBe(1)
    await sleep(50)
    expect(socket.status).toBe('closed')
    expect(face.stats.connections).toBe(0)
  }, 20_000)

  test('authFailed with a stale generation does not rotate again; three sockets refused at once rotate once', async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const { server, face } = env
    const session = await env.bearer({ rotation: 'request' })
    const g = session.state.generation
    await session.authFailed(g)
    expect(server.stats.refreshGranted).toBe(1)
    await session.authFailed(g)
    await Promise.all([session.authFailed(g), session.authFailed(g)])
    expect(server.stats.refreshGranted).toBe(1)
    expect(session.state.generation).toBe(g + 1)

    const feeds = [0, 1, 2].map(() => feed(env!, session, ['x']))
    await waitFor(() => face.stats.subscribes === 3)
    // Every AT stops working: the face closes all three sockets with 4401, each reports it.
    server.revokeAccessTokens()
    await waitFor(() => face.stats.subscribes === 6)
    expect(face.stats.closedUnauthorized).toBe(3)
    expect(server.stats).toMatchObject({ refreshGranted: 2, reusedRefused: 0 })
    expect(face.stats).toMatchObject({ subscribeRefused: 0, connections: 6 })
    for (const f of feeds) expect(f.opens).toEqual([g + 1, g + 2])
  })

  test('authFailed(generation) with a bad generation is a TypeError', async () => {
    env = await startSocketEnv()
    const session = await env.bearer()
    await expect(session.authFailed('1' as unknown as number)).rejects.toThrow(/authFailed\(generation\)/)
    await expect(session.authFailed(-1)).rejects.toBeInstanceOf(TypeError)
  })
})

describe('the end', () => {
  test('after logout() the socket closes with the reason and never reconnects; its timers are gone', async () => {
    env = await startSocketEnv()
    const { face } = env
    const timers = countTimers()
    try {
      const session = await env.bearer()
      const f = feed(env, session, CHANNELS, { backoff: { initial: 10, max: 20 } })
      const closes: string[] = []
      f.socket.on('close', ({ reason }) => closes.push(reason))
      await waitFor(() => face.stats.subscribes === CHANNELS.length)
      await session.logout()
      expect(closes).toEqual(['rotor-auth: session ended (user)'])
      expect(f.socket.status).toBe('closed')
      await waitFor(() => face.open === 0)
      const closed = face.log.find(e => e.kind === 'close')
      expect(closed?.code).toBe(1000)
      // Ten times the longest backoff: a reconnect would have been attempted by now.
      await sleep(200)
      expect(face.stats.connections).toBe(1)
      expect(timers.pending().filter(where => where.includes('socket'))).toEqual([])
    } finally {
      timers.restore()
    }
  })

  test('dispose() of the session closes the socket; close() releases its listeners', async () => {
    env = await startSocketEnv()
    const { face } = env
    const session = await env.bearer()
    const f = feed(env, session, ['x'])
    const reasons: string[] = []
    f.socket.on('close', ({ reason }) => reasons.push(reason))
    await waitFor(() => face.stats.subscribes === 1)
    session.dispose()
    expect(reasons).toEqual(['rotor-auth: session disposed'])
    await waitFor(() => face.open === 0)

    const other = await env.bearer()
    const socket = createSocket(other, { WebSocket: NodeWebSocket, url: face.url!, ...bearerAuth })
    await waitFor(() => socket.status === 'open')
    socket.close()
    await waitFor(() => face.open === 0)
    // A rotation after close() reaches no listener of the socket: nothing reconnects.
    await other.rotate()
    await sleep(50)
    expect(face.stats.connections).toBe(2)
  })

  test('dispose() while the handshake is in flight: closed before it was established, no uncaught error', async () => {
    env = await startSocketEnv()
    const session = await env.bearer()
    const states: number[] = []
    // Disposes the session right after the socket is constructed, while it is CONNECTING
    // (Node's ws emits 'error' for that close: with no listener it would be thrown).
    class Constructed extends (NodeWebSocket as unknown as typeof WebSocket) {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args)
        states.push(this.readyState)
        queueMicrotask(() => session.dispose())
      }
    }
    const socket = createSocket(session, { WebSocket: Constructed as never, url: env.face.url!, ...bearerAuth })
    await waitFor(() => socket.status === 'closed')
    await sleep(50)
    expect(states).toEqual([0])
    expect(env.face.stats.auths).toBe(0)
  })

  test('a server restart that forgets every token: one refused refresh, the session ends, the socket closes without a reconnect loop', async () => {
    env = await startSocketEnv()
    const { server, face } = env
    const session = await env.bearer()
    const f = feed(env, session, ['x'], { backoff: { initial: 10, max: 20 } })
    const reasons: string[] = []
    f.socket.on('close', ({ reason }) => reasons.push(reason))
    await waitFor(() => face.stats.subscribes === 1)
    server.restart()
    await waitFor(() => f.socket.status === 'closed')
    expect(reasons).toEqual(['rotor-auth: session ended (rejected)'])
    await sleep(200)
    expect(face.stats).toMatchObject({ connections: 1, closedUnauthorized: 1, subscribeRefused: 0 })
    expect(server.stats).toMatchObject({ refreshCalls: 1, refreshRefused: 1, reusedRefused: 0 })
  })

  test('a session already over: the socket closes without connecting', async () => {
    env = await startSocketEnv()
    const session = await env.bearer()
    await session.logout()
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: env.face.url!, ...bearerAuth })
    const reasons: string[] = []
    socket.on('close', ({ reason }) => reasons.push(reason))
    await waitFor(() => socket.status === 'closed')
    expect(reasons).toEqual(['rotor-auth: session ended (user)'])
    expect(env.face.stats.connections).toBe(0)
    await expect(session.ready()).rejects.toBeInstanceOf(SessionExpiredError)
  })
})

describe('options', () => {
  test('bad or unknown options are TypeErrors naming the option', async () => {
    env = await startSocketEnv()
    const session = await env.bearer()
    const url = env.face.url!
    const make = (options: Record<string, unknown>) => () => createSocket(session, { WebSocket: NodeWebSocket, url, ...options } as never)
    expect(make({ url: 42 })).toThrow(/`url`/)
    expect(make({ WebSocket: 'ws' })).toThrow(/`WebSocket`/)
    expect(make({ onRotate: {} })).toThrow(/`onRotate`/)
    expect(make({ authCloseCodes: [4401, 'x'] })).toThrow(/`authCloseCodes`/)
    expect(make({ backoff: { initial: 0 } })).toThrow(/`backoff.initial`/)
    expect(make({ backoff: { initial: 100, max: 10 } })).toThrow(/`backoff.max`/)
    expect(make({ onrotate: () => undefined })).toThrow(/unknown option `onrotate`/)
    expect(() => createSocket({} as never, { WebSocket: NodeWebSocket, url })).toThrow(TypeError)
    expect(env.face.stats.connections).toBe(0)
  })
})
