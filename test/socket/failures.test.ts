/**
 * Sockets and streams report every failure and bound every loop (issue 25 item 10, issue 26
 * item 3): against bespoke servers on 127.0.0.1 that misbehave (a WebSocket server that
 * acknowledges and then closes 4401, one that refuses before the acknowledgement, an SSE
 * route that answers 200 then `event: unauthorized`, HTML, 404, a port that resets), counting
 * at the reference auth server the refreshes each loop cost and at the bespoke server the
 * connections it took.
 */
import { once } from 'node:events'
import { createServer, type AddressInfo, type Server } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, test } from 'vitest'
import { WebSocketServer } from 'ws'
import { createEventStream, createSocket, type CloseCause, type ConnectionError, type RotorEventStream } from '../../src/socket/index.js'
import { createSession, type Session } from '../../src/index.js'
import { bearerLogin, bearerOptions, flowingClock, sleep, waitFor } from '../helpers/index.js'
import { bearerAuth, closeServer, NodeWebSocket, startSocketEnv, type SocketEnv } from './helpers.js'

let env: SocketEnv | undefined
const cleanup: Array<() => unknown> = []

afterEach(async () => {
  for (const done of cleanup.splice(0).reverse()) await done()
  await env?.close()
  env = undefined
})

/** The window the reproductions ran for: without a bound, hundreds of refreshes. */
const WINDOW = 6_000
const FAST = { backoff: { initial: 20, max: 100 } }

/** What a socket or stream reported: its `error` and `close` events, in order. */
function witness(target: {
  on(event: 'error', l: (e: ConnectionError) => void): unknown
  on(event: 'close', l: (e: { reason: string; cause: CloseCause }) => void): unknown
}) {
  const errors: ConnectionError[] = []
  const closes: Array<{ reason: string; cause: CloseCause }> = []
  target.on('error', e => errors.push(e))
  target.on('close', e => closes.push(e))
  return { errors, closes, reasons: () => errors.map(e => e.reason) }
}

type Misbehaviour = 'ack-then-4401' | '4401-before-ack' | 'unauthorized-message' | 'ack-then-1000'

/**
 * A WebSocket server that authenticates by first message against the reference server's
 * tokens, then misbehaves: counts connections, and tokens presented that were valid.
 */
async function misbehavingWs(misbehaviour: Misbehaviour) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const seen = { connections: 0, validTokens: 0, urls: [] as string[], tokens: [] as string[] }
  wss.on('connection', (ws, req) => {
    seen.connections++
    seen.urls.push(req.url ?? '')
    ws.on('message', async data => {
      const message = JSON.parse(String(data)) as { type?: string; token?: string }
      if (message.type !== 'auth') return
      seen.tokens.push(String(message.token))
      if (await env!.server.verifyAccessToken(message.token)) seen.validTokens++
      if (misbehaviour === 'ack-then-4401' || misbehaviour === 'ack-then-1000') {
        ws.send(JSON.stringify({ type: 'authenticated' }))
        ws.close(misbehaviour === 'ack-then-4401' ? 4401 : 1000, 'changed my mind')
      } else if (misbehaviour === '4401-before-ack') {
        ws.close(4401, 'no')
      } else {
        // Refused by a message, and the connection left open: the client must act on it.
        ws.send(JSON.stringify({ type: 'unauthorized', reason: 'no' }))
      }
    })
  })
  cleanup.push(() => closeServer(wss))
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/live`, seen }
}

/** A TCP port that accepts and resets every connection: a server that is down, counted. */
async function resettingPort() {
  const seen = { connections: 0 }
  const server: Server = createServer(socket => {
    seen.connections++
    socket.destroy()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanup.push(() => new Promise(resolve => server.close(resolve)))
  return { port: (server.address() as AddressInfo).port, seen }
}

/** An HTTP route on the reference server (before the model sees it), counting its requests. */
function route(path: string, answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen = { requests: 0, urls: [] as string[], authorization: [] as string[] }
  cleanup.push(
    env!.server.attach({
      request(req, res) {
        if (new URL(req.url ?? '/', 'http://x').pathname !== path) return false
        seen.requests++
        seen.urls.push(req.url ?? '')
        seen.authorization.push(req.headers.authorization ?? '')
        answer(req, res)
        return true
      },
    }),
  )
  return { url: `${env!.url}${path}`, seen }
}

function stream(session: Session, options: Parameters<typeof createEventStream>[1]): RotorEventStream {
  const s = createEventStream(session, options)
  cleanup.push(() => s.close())
  return s
}

/** Waits up to WINDOW for the terminal close, then a while more: nothing may follow it. */
async function settle(closes: unknown[]) {
  await waitFor(() => closes.length > 0, { timeout: WINDOW }).catch(() => undefined)
  await sleep(300)
}

/** Each delay within the backoff and never shorter than the one before (capped exponential, jitter in the upper half). */
function expectBackoff(errors: ConnectionError[], { initial, max }: { initial: number; max: number }) {
  const delays = errors.map(e => e.retryIn!)
  delays.forEach((delay, i) => {
    const ceiling = Math.min(max, initial * 2 ** i)
    expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
    expect(delay).toBeLessThanOrEqual(ceiling)
  })
}

describe('a socket whose token the server keeps refusing', () => {
  test.each([
    ['acknowledges the token, then closes 4401', 'ack-then-4401'],
    ['closes 4401 before the acknowledgement', '4401-before-ack'],
    ['answers an `unauthorized` message and keeps the connection open', 'unauthorized-message'],
  ] as const)(
    'a server that %s: 3 connections and 2 refreshes, then `unauthorized-repeated` and the socket closes for good',
    async (_label, misbehaviour) => {
      env = await startSocketEnv({ accessTokenTtl: 60_000 })
      const { server } = env
      const ws = await misbehavingWs(misbehaviour)
      const session = await env.bearer({ rotation: 'request' })
      const g = session.state.generation
      const socket = createSocket(session, { WebSocket: NodeWebSocket, url: ws.url, ...bearerAuth, ...FAST })
      env.sockets.push(socket)
      const seen = witness(socket)
      const disconnects: Array<{ auth: boolean }> = []
      socket.on('disconnect', d => disconnects.push(d))
      await settle(seen.closes)
      console.log(`[socket bound] ${misbehaviour}: connections ${ws.seen.connections}, refreshes ${server.stats.refreshGranted}, events ${seen.errors.length}`)
      // Refused, rotated, refused again with the fresh token, rotated, refused a third time: done.
      expect(ws.seen.connections).toBe(3)
      expect(ws.seen.validTokens).toBe(3)
      expect(server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 2, reusedRefused: 0 })
      expect(session.state.generation).toBe(g + 2)
      expect(seen.reasons()).toEqual(['unauthorized', 'unauthorized', 'unauthorized-repeated'])
      expect(seen.errors.map(e => e.willRetry)).toEqual([true, true, false])
      // The first refusal reconnects at once; the second backs off.
      expect(seen.errors[0]!.retryIn).toBe(0)
      expect(seen.errors[1]!.retryIn).toBeGreaterThan(0)
      expect(seen.closes).toEqual([{ reason: expect.stringMatching(/refused 3 tokens in a row/), cause: 'unauthorized-repeated' }])
      expect(socket.status).toBe('closed')
      // Every refusal is a disconnect with `auth`, the message one included.
      expect(disconnects.map(d => d.auth)).toEqual([true, true, true])
      // No event carries a token: none of the three the server was shown appears in any payload.
      expect(ws.seen.tokens).toHaveLength(3)
      const payloads = JSON.stringify([seen.errors, seen.closes, disconnects])
      for (const token of ws.seen.tokens) expect(payloads).not.toContain(token)
      if (misbehaviour !== 'unauthorized-message') expect(seen.errors.every(e => e.code === 4401)).toBe(true)
    },
    20_000,
  )

  test('maxRefusals: 5 allows five refusals (four refreshes) before closing', async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const ws = await misbehavingWs('ack-then-4401')
    // Four refreshes inside one AT lifetime are over the default refresh budget (3 per
    // lifetime): widen it, since this test is about the socket's own bound.
    const session = await env.bearer({ rotation: 'request', refreshBudget: { perLifetime: 5, perMinute: 10 } })
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: ws.url, ...bearerAuth, ...FAST, maxRefusals: 5 })
    env.sockets.push(socket)
    const seen = witness(socket)
    await settle(seen.closes)
    expect(ws.seen.connections).toBe(5)
    expect(env.server.stats).toMatchObject({ refreshGranted: 4, reusedRefused: 0 })
    expect(seen.closes.map(c => c.cause)).toEqual(['unauthorized-repeated'])
  }, 20_000)

  test('a token that simply runs out every lifetime (request mode) is cut each time and never counts as repeated', async () => {
    // AT 1 s, no timer: the reference face closes 4401 as each AT expires; the socket reports
    // it, the session rotates, the socket reconnects. Each connection lived its token's life.
    env = await startSocketEnv({ accessTokenTtl: 1000, refreshTokenTtl: 60_000 })
    const { server, face } = env
    const session = await env.bearer({ rotation: 'request' })
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: face.url!, ...bearerAuth, ...FAST })
    env.sockets.push(socket)
    const seen = witness(socket)
    // Four cuts reported, and the socket open again after the last (its refresh is done).
    await waitFor(() => seen.errors.length >= 4 && socket.status === 'open', { timeout: 10_000 })
    const cuts = seen.errors.length
    expect(seen.closes).toEqual([])
    expect(seen.reasons().every(r => r === 'unauthorized')).toBe(true)
    // Each cut was a first refusal (its connection had lived its token's life): reconnect at once.
    expect(seen.errors.every(e => e.retryIn === 0)).toBe(true)
    // One refresh per cut, none more.
    expect(face.stats.closedUnauthorized).toBe(cuts)
    expect(server.stats.refreshGranted).toBe(cuts)
    expect(server.stats.reusedRefused).toBe(0)
    expect(face.stats.connections).toBe(cuts + 1)
  }, 20_000)
})

describe('a socket that cannot connect', () => {
  test('a port that resets every connection: each attempt is an `error` `connect-failed` with a growing delay; no `open`', async () => {
    env = await startSocketEnv()
    const down = await resettingPort()
    const session = await env.bearer()
    const backoff = { initial: 20, max: 160 }
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: `ws://127.0.0.1:${down.port}/live`, ...bearerAuth, backoff })
    env.sockets.push(socket)
    const seen = witness(socket)
    const opens: unknown[] = []
    socket.on('open', o => opens.push(o))
    await waitFor(() => seen.errors.length >= 6, { timeout: 10_000 })
    socket.close()
    await sleep(100)
    expect(opens).toEqual([])
    expect(new Set(seen.reasons())).toEqual(new Set(['connect-failed']))
    expect(seen.errors.every(e => e.willRetry)).toBe(true)
    expectBackoff(seen.errors, backoff)
    // Every attempt the port saw was reported, and nothing came after close().
    expect(down.seen.connections).toBe(seen.errors.length)
    expect(seen.closes).toEqual([{ reason: 'rotor-auth: closed by the app', cause: 'app' }])
    // Nothing to do with the token: no refresh.
    expect(env.server.stats.refreshCalls).toBe(0)
  })
})

describe('a socket whose server closes every connection', () => {
  test('acknowledged, then closed normally at once: `interrupted` each time, the delay growing (not reset by the acknowledgement), no refresh', async () => {
    env = await startSocketEnv()
    const ws = await misbehavingWs('ack-then-1000')
    const session = await env.bearer()
    const backoff = { initial: 20, max: 160 }
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: ws.url, ...bearerAuth, backoff })
    env.sockets.push(socket)
    const seen = witness(socket)
    await waitFor(() => seen.errors.length >= 6, { timeout: 10_000 })
    socket.close()
    await sleep(100)
    expect(new Set(seen.reasons())).toEqual(new Set(['interrupted']))
    expect(seen.errors.every(e => e.code === 1000)).toBe(true)
    expectBackoff(seen.errors, backoff)
    expect(ws.seen.connections).toBe(seen.errors.length)
    expect(env.server.stats.refreshCalls).toBe(0)
  })
})

describe('a socket whose session cannot rotate', () => {
  test('a refused token while the refresh keeps failing: reported to authFailed once, then backed off, then `unauthorized-repeated`', async () => {
    const clock = flowingClock()
    env = await startSocketEnv({ accessTokenTtl: 60_000, now: clock.now })
    const { server } = env
    const ws = await misbehavingWs('4401-before-ack')
    const session = await env.bearer({ rotation: 'request', now: clock.now, refreshRetries: 0, queueTimeout: 200 })
    const g = session.state.generation
    const reported: number[] = []
    const authFailed = session.authFailed.bind(session)
    session.authFailed = (generation, options) => (reported.push(generation), authFailed(generation, options))
    server.fault('refresh', { status: 503, times: 1_000 })
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: ws.url, ...bearerAuth, ...FAST })
    env.sockets.push(socket)
    const seen = witness(socket)
    await settle(seen.closes)
    // The same token refused three times: one report (one rotation attempt), not three.
    expect(reported).toEqual([g])
    expect(ws.seen.connections).toBe(3)
    expect(new Set(ws.seen.tokens).size).toBe(1)
    expect(server.stats.refreshCalls).toBe(1)
    expect(seen.reasons()).toEqual(['unauthorized', 'unauthorized', 'unauthorized-repeated'])
  }, 20_000)

  test('refresh failing past queueTimeout: an `error` `rotation-failed` per wait, backing off; connects once the refresh works', async () => {
    // A clock that flows (queueTimeout is counted on it) and jumps past the AT's expiry.
    const clock = flowingClock()
    env = await startSocketEnv({ accessTokenTtl: 60_000, now: clock.now })
    const { server, face } = env
    const session = await env.bearer({ rotation: 'request', now: clock.now, refreshRetries: 0, queueTimeout: 200 })
    clock.advance(61_000)
    server.fault('refresh', { status: 503, times: 1_000 })
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: face.url!, ...bearerAuth, ...FAST })
    env.sockets.push(socket)
    const seen = witness(socket)
    await waitFor(() => seen.errors.length >= 2, { timeout: 10_000 })
    expect(new Set(seen.reasons())).toEqual(new Set(['rotation-failed']))
    expect(seen.errors.every(e => e.willRetry && e.retryIn! > 0)).toBe(true)
    expect(face.stats.connections).toBe(0)
    server.clearFaults()
    await waitFor(() => socket.status === 'open', { timeout: 10_000 })
    expect(face.stats).toMatchObject({ connections: 1, authRefused: 0 })
    expect(server.stats.reusedRefused).toBe(0)
    expect(seen.closes).toEqual([])
  }, 20_000)
})

describe('close() from an `error` listener', () => {
  test('socket and stream: nothing is attempted after it, whatever the failure', async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const down = await resettingPort()
    const refusing = await misbehavingWs('4401-before-ack')
    const bad = route('/api/html', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>'))
    const session = await env.bearer({ rotation: 'request' })
    const sockets = [`ws://127.0.0.1:${down.port}/live`, refusing.url].map(url => {
      const socket = createSocket(session, { WebSocket: NodeWebSocket, url, ...bearerAuth, ...FAST })
      env!.sockets.push(socket)
      socket.on('error', () => socket.close())
      return socket
    })
    const s = stream(session, { url: bad.url, ...FAST })
    s.on('error', () => s.close())
    await waitFor(() => sockets.every(socket => socket.status === 'closed'))
    // Ten times the longest delay: any attempt scheduled after close() would have been made.
    await sleep(1_000)
    expect([down.seen.connections, refusing.seen.connections, bad.seen.requests]).toEqual([1, 1, 1])
    expect(env.server.stats.refreshCalls).toBe(0)
  })
})

describe('a socket created before session.start()', () => {
  test('waits for the login, then connects once; it does not close for good', async () => {
    env = await startSocketEnv()
    const { face } = env
    const session = createSession({ ...bearerOptions(env.url), crossTab: false })
    env.sessions.push(session)
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: face.url!, ...bearerAuth })
    env.sockets.push(socket)
    const seen = witness(socket)
    await sleep(200)
    expect(seen.closes).toEqual([])
    expect(socket.status).not.toBe('closed')
    expect(face.stats.connections).toBe(0)
    const login = await bearerLogin(env.url)
    await session.start(login)
    await waitFor(() => socket.status === 'open')
    expect(face.stats).toMatchObject({ connections: 1, auths: 1, authRefused: 0 })
    expect(seen.errors).toEqual([])
  })

  test('close() while it waits for the login: closed, and the login later connects nothing', async () => {
    env = await startSocketEnv()
    const session = createSession({ ...bearerOptions(env.url), crossTab: false })
    env.sessions.push(session)
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: env.face.url!, ...bearerAuth })
    await sleep(50)
    socket.close()
    await session.start(await bearerLogin(env.url))
    await sleep(100)
    expect(socket.status).toBe('closed')
    expect(env.face.stats.connections).toBe(0)
  })
})

describe('where the token goes', () => {
  test('socket: the connection URL is the one given (no token added to it); the token travels in the first frame', async () => {
    env = await startSocketEnv()
    const ws = await misbehavingWs('ack-then-4401')
    const session = await env.bearer()
    const token = await session.accessToken()
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: ws.url, ...bearerAuth, maxRefusals: 1 })
    env.sockets.push(socket)
    await waitFor(() => socket.status === 'closed')
    expect(ws.seen.urls).toEqual(['/live'])
    expect(ws.seen.validTokens).toBe(1)
    expect(ws.seen.urls.join()).not.toContain(token)
  })

  test('SSE: the token is in the Authorization header, never in the URL', async () => {
    env = await startSocketEnv()
    const events = route('/api/tokens-seen', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end('data: hi\n\n')
    })
    const session = await env.bearer()
    const token = await session.accessToken()
    const s = stream(session, { url: `${events.url}?channel=a`, ...FAST })
    const got: string[] = []
    s.on('event', e => got.push(e.data))
    await waitFor(() => got.length >= 1)
    s.close()
    expect(events.seen.authorization[0]).toBe(`Bearer ${token}`)
    for (const url of events.seen.urls) expect(url).not.toContain(token)
    expect(events.seen.urls[0]).toBe('/api/tokens-seen?channel=a')
  })
})

describe('an event stream that fails', () => {
  test('200 then `event: unauthorized` on every stream: 3 requests and 2 refreshes, then `unauthorized-repeated` and the stream closes', async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const flaky = route('/api/flaky', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end('event: unauthorized\ndata: {}\n\n')
    })
    const session = await env.bearer({ rotation: 'request' })
    const s = stream(session, { url: flaky.url, ...FAST })
    const seen = witness(s)
    await settle(seen.closes)
    console.log(`[sse bound] 200 + unauthorized: requests ${flaky.seen.requests}, refreshes ${env.server.stats.refreshGranted}, events ${seen.errors.length}`)
    expect(flaky.seen.requests).toBe(3)
    expect(env.server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 2, reusedRefused: 0 })
    expect(seen.reasons()).toEqual(['unauthorized', 'unauthorized', 'unauthorized-repeated'])
    expect(seen.closes.map(c => c.cause)).toEqual(['unauthorized-repeated'])
  }, 20_000)

  test("401 on every request (after the session's own rotation and replay): bounded, then `unauthorized-repeated`", async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const refusing = route('/api/refusing', (_req, res) => res.writeHead(401).end())
    const session = await env.bearer({ rotation: 'request' })
    const s = stream(session, { url: refusing.url, ...FAST })
    const seen = witness(s)
    await settle(seen.closes)
    console.log(`[sse bound] 401: requests ${refusing.seen.requests}, refreshes ${env.server.stats.refreshGranted}`)
    expect(seen.reasons()).toEqual(['unauthorized', 'unauthorized', 'unauthorized-repeated'])
    expect(seen.errors.every(e => e.status === 401)).toBe(true)
    // Each attempt: the request and session.fetch's one replay after its rotation.
    expect(refusing.seen.requests).toBe(6)
    expect(env.server.stats.refreshGranted).toBe(3)
    expect(env.server.stats.reusedRefused).toBe(0)
    expect(seen.closes.map(c => c.cause)).toEqual(['unauthorized-repeated'])
  }, 20_000)

  test.each([
    [
      'an HTML page answered 200',
      'not-event-stream',
      (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy login</html>'),
      { status: 200, contentType: 'text/html' },
    ],
    [
      'JSON answered 200',
      'not-event-stream',
      (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"events":[]}'),
      { status: 200, contentType: 'application/json' },
    ],
    ['a 404 (wrong URL)', 'http-status', (res: ServerResponse) => res.writeHead(404).end('not found'), { status: 404 }],
    ['a 503', 'http-status', (res: ServerResponse) => res.writeHead(503).end(), { status: 503 }],
  ] as const)('%s: no `open`, an `error` %s per request with a growing delay', async (_label, reason, answer, detail) => {
    env = await startSocketEnv()
    const bad = route('/api/bad', (_req, res) => answer(res))
    const session = await env.bearer()
    const backoff = { initial: 20, max: 160 }
    const s = stream(session, { url: bad.url, backoff })
    const seen = witness(s)
    const opens: unknown[] = []
    s.on('open', o => opens.push(o))
    await waitFor(() => seen.errors.length >= 5, { timeout: 10_000 })
    s.close()
    await sleep(100)
    expect(opens).toEqual([])
    for (const e of seen.errors) expect(e).toMatchObject({ reason, willRetry: true, ...detail })
    expectBackoff(seen.errors, backoff)
    expect(bad.seen.requests).toBe(seen.errors.length)
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test('a server that is down: an `error` `connect-failed` per attempt, with a growing delay', async () => {
    env = await startSocketEnv()
    const down = await resettingPort()
    const session = await env.bearer()
    const backoff = { initial: 20, max: 160 }
    const s = stream(session, { url: `http://127.0.0.1:${down.port}/events`, backoff })
    const seen = witness(s)
    await waitFor(() => seen.errors.length >= 5, { timeout: 10_000 })
    s.close()
    await sleep(100)
    expect(new Set(seen.reasons())).toEqual(new Set(['connect-failed']))
    expectBackoff(seen.errors, backoff)
    expect(down.seen.connections).toBe(seen.errors.length)
  })

  test('a stream the server ends after each event: `interrupted`, the delay growing, every event once', async () => {
    env = await startSocketEnv()
    let n = 0
    const ending = route('/api/ending', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
      res.end(`id: ${++n}\ndata: ${n}\n\n`)
    })
    const session = await env.bearer()
    const backoff = { initial: 20, max: 160 }
    const s = stream(session, { url: ending.url, backoff })
    const seen = witness(s)
    const got: string[] = []
    s.on('event', e => got.push(e.data))
    await waitFor(() => seen.errors.length >= 4, { timeout: 10_000 })
    s.close()
    expect(new Set(seen.reasons())).toEqual(new Set(['interrupted']))
    // Streams that end at once are failures like any other: the delay grows (it was held at
    // `initial` when each open reset the count, four reconnects a second without end).
    expectBackoff(seen.errors, backoff)
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => String(i + 1)))
    expect(ending.seen.requests).toBeGreaterThanOrEqual(seen.errors.length)
  })
})

describe('options', () => {
  test('on() with an unknown event or a listener that is not a function is a TypeError at the call', async () => {
    env = await startSocketEnv()
    const session = await env.bearer()
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: env.face.url!, ...bearerAuth })
    env.sockets.push(socket)
    expect(() => socket.on('opne' as never, () => undefined)).toThrow(/unknown event "opne" \(one of open, message, disconnect, error, close\)/)
    expect(() => socket.on('close', 'x' as never)).toThrow(/on\('close', listener\): the listener must be a function/)
    const s = stream(session, { url: `${env.url}/api/events` })
    expect(() => s.on('message' as never, () => undefined)).toThrow(/unknown event "message" \(one of open, event, disconnect, error, close\)/)
    expect(() => s.on('error', undefined as never)).toThrow(TypeError)
  })

  test('nested options are checked like top-level ones: unknown keys name their path, with "did you mean"', async () => {
    env = await startSocketEnv()
    const session = await env.bearer()
    const url = env.face.url!
    const socket = (options: Record<string, unknown>) => () => createSocket(session, { WebSocket: NodeWebSocket, url, ...options } as never)
    expect(socket({ backoff: { inital: 10 } })).toThrow(/unknown option `backoff\.inital` \(did you mean `backoff\.initial`\?\)/)
    expect(socket({ backoff: { maximum: 10 } })).toThrow(/unknown option `backoff\.maximum`/)
    expect(socket({ maxRefusal: 2 })).toThrow(/unknown option `maxRefusal` \(did you mean `maxRefusals`\?\)/)
    expect(socket({ maxRefusals: 0 })).toThrow(/`maxRefusals`/)
    const sse = (options: Record<string, unknown>) => () => createEventStream(session, { url: `${env!.url}/api/events`, ...options } as never)
    expect(sse({ backof: {} })).toThrow(/unknown option `backof` \(did you mean `backoff`\?\)/)
    expect(sse({ backoff: { mx: 10 } })).toThrow(/unknown option `backoff\.mx` \(did you mean `backoff\.max`\?\)/)
    expect(sse({ backoff: { initial: 100, max: 10 } })).toThrow(/`backoff\.max`/)
    expect(sse({ unauthorizedEvent: 4 })).toThrow(/`unauthorizedEvent`/)
    expect(sse({ init: { signal: new AbortController().signal } })).toThrow(/`init\.signal`/)
    expect(sse({ maxRefusals: 1.5 })).toThrow(/`maxRefusals`/)
    expect(env.face.stats.connections).toBe(0)
  })
})
