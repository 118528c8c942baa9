/**
 * A live feed in Node that outlives its access tokens, a server restart and a forced
 * disconnect, without losing or repeating a message: a bearer session rotates on a timer,
 * `rotor-auth/socket` hands each new token over the open socket, and every (re)connect
 * waits for a usable token, authenticates, and only then resubscribes, each subscription
 * resuming after the last message it saw.
 *
 *   npx tsx examples/live-feed.ts
 */
import WebSocket from 'ws'
import { createSession, type Session } from '../src/index.js'
import { createSocket, type RotorSocket, type WebSocketConstructor } from '../src/socket/index.js'
import { createAuthServer, createSocketFace } from '../src/testing/index.js'

export type LiveFeed = {
  socket: RotorSocket
  /** Seqs received per channel, in order. */
  received: Map<string, number[]>
}

/** Subscribes to `channels` over `wsUrl`; each subscription resumes after the last seq it saw. */
export function startLiveFeed(session: Session, wsUrl: string, channels: string[]): LiveFeed {
  const received = new Map(channels.map(channel => [channel, [] as number[]]))
  const socket = createSocket(session, {
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    url: wsUrl,
    // The reference server takes the token as the first message, and again after a rotation.
    authMessage: ({ token }) => ({ type: 'auth', token }),
    onRotate: ({ token }) => ({ type: 'auth', token }),
    backoff: { initial: 50, max: 1000 },
  })
  socket.on('message', message => {
    const m = message as { type?: string; channel?: string; seq?: number }
    if (m.type === 'message' && m.channel !== undefined && m.seq !== undefined) received.get(m.channel)?.push(m.seq)
  })
  for (const channel of channels) {
    socket.subscribe(channel, () => ({ type: 'subscribe', channel, after: received.get(channel)?.at(-1) ?? 0 }))
  }
  return { socket, received }
}

export type LiveFeedReport = {
  seconds: number
  published: number
  /** Messages received exactly once each, in order, on every channel. */
  exactlyOnce: boolean
  refreshes: number
  reusedRefreshTokens: number
  connections: number
  subscriptionsRefused: number
}

/**
 * The scenario: `seconds` of messages on three channels with a 1 s AT; a third of the way in
 * the server drops every connection, two thirds in its HTTP face restarts on the same port.
 */
export async function runLiveFeed(seconds = 6): Promise<LiveFeedReport> {
  const server = createAuthServer({ accessTokenTtl: 1_000, refreshTokenTtl: 60_000 })
  const face = await createSocketFace(server)
  const { url, port } = await server.listen()
  const wsUrl = face.url!
  const login = await fetch(`${url}/bearer/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
  })
  const session = createSession({
    scope: `${url}/api`,
    transport: 'bearer',
    refresh: { url: `${url}/bearer/refresh`, style: 'json' },
    logout: `${url}/bearer/logout`,
    // The server cuts a socket when its AT expires: hand the new one over well before.
    rotateAt: 0.85,
  })
  await session.start(login)
  const channels = ['prices', 'orders', 'news']
  const feed = startLiveFeed(session, wsUrl, channels)

  const published = new Map(channels.map(channel => [channel, 0]))
  const started = Date.now()
  let dropped = false
  let restarted = false
  for (let i = 0; Date.now() - started < seconds * 1000; i++) {
    const channel = channels[i % channels.length]!
    published.set(channel, face.publish(channel, { i }))
    const elapsed = Date.now() - started
    if (!dropped && elapsed > (seconds * 1000) / 3) {
      dropped = true
      face.drop()
    }
    if (!restarted && elapsed > (seconds * 2000) / 3) {
      restarted = true
      await server.close()
      await new Promise(resolve => setTimeout(resolve, 200))
      await server.listen({ port })
    }
    await new Promise(resolve => setTimeout(resolve, 15))
  }
  const expected = (channel: string) => Array.from({ length: published.get(channel)! }, (_, i) => i + 1)
  const caughtUp = () => channels.every(c => feed.received.get(c)!.length >= published.get(c)!)
  for (let waited = 0; !caughtUp() && waited < 5000; waited += 20) await new Promise(resolve => setTimeout(resolve, 20))

  const report: LiveFeedReport = {
    seconds,
    published: [...published.values()].reduce((a, b) => a + b, 0),
    exactlyOnce: channels.every(c => JSON.stringify(feed.received.get(c)) === JSON.stringify(expected(c))),
    refreshes: server.stats.refreshGranted,
    reusedRefreshTokens: server.stats.reusedRefused,
    connections: face.stats.connections,
    subscriptionsRefused: face.stats.subscribeRefused,
  }
  await session.logout()
  session.dispose()
  await face.close()
  await server.close()
  return report
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runLiveFeed()
  console.log(
    `live feed: ${r.published} messages over ${r.seconds} s with a 1 s access token, a forced disconnect and a server restart; ` +
      `each received exactly once: ${r.exactlyOnce}; refreshes: ${r.refreshes}, reused RTs: ${r.reusedRefreshTokens}, ` +
      `connections: ${r.connections}, subscriptions refused: ${r.subscriptionsRefused}`,
  )
}
