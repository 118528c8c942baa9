/** Shared setup of the socket tests: the reference server with its WebSocket face, and a feed client that checks exactly-once delivery. */
import WebSocket, { type WebSocketServer } from 'ws'
import { createSocket, type RotorSocket, type SocketOptions, type WebSocketConstructor } from '../../src/socket/index.js'
import { createSocketFace, type SocketFace } from '../../src/testing/index.js'
import type { Session } from '../../src/index.js'
import { startEnv, type Env } from '../helpers/index.js'

export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor

export type SocketEnv = Env & { face: SocketFace; sockets: RotorSocket[] }

export async function startSocketEnv(serverOptions: Parameters<typeof startEnv>[0] = {}): Promise<SocketEnv> {
  const env = await startEnv(serverOptions)
  const face = await createSocketFace(env.server)
  const sockets: RotorSocket[] = []
  return {
    ...env,
    face,
    sockets,
    async close() {
      for (const s of sockets) s.close()
      await face.close()
      await env.close()
    },
  }
}

/** Bearer: the token goes in the first message, and over the open socket after a rotation. */
export const bearerAuth = {
  authMessage: (ctx: { token: string | undefined }) => ({ type: 'auth', token: ctx.token }),
  onRotate: (ctx: { token: string | undefined }) => ({ type: 'auth', token: ctx.token }),
}

/**
 * A feed (bearer auth by message unless `auth` says otherwise): `channels` subscriptions that resume after the last seq seen, and a record of every
 * message received, so a test can check each published one arrived exactly once.
 */
export function feed(env: SocketEnv, session: Session, channels: string[], options: Partial<SocketOptions> = {}, auth: Partial<SocketOptions> = bearerAuth) {
  const last = new Map<string, number>(channels.map(c => [c, 0]))
  const received = new Map<string, number[]>(channels.map(c => [c, []]))
  const opens: number[] = []
  const socket = createSocket(session, { WebSocket: NodeWebSocket, url: env.face.url!, ...auth, ...options })
  env.sockets.push(socket)
  socket.on('open', ({ generation }) => opens.push(generation))
  socket.on('message', message => {
    const m = message as { type?: string; channel?: string; seq?: number }
    if (m.type !== 'message' || m.channel === undefined || m.seq === undefined) return
    received.get(m.channel)?.push(m.seq)
    last.set(m.channel, Math.max(last.get(m.channel) ?? 0, m.seq))
  })
  for (const channel of channels) {
    socket.subscribe(
      channel,
      () => ({ type: 'subscribe', channel, after: last.get(channel) }),
      () => ({ type: 'unsubscribe', channel }),
    )
  }
  return {
    socket,
    received,
    opens,
    /** Every channel received 1..published[channel], each once, in order. */
    expected: (published: Map<string, number>) => new Map(channels.map(c => [c, Array.from({ length: published.get(c) ?? 0 }, (_, i) => i + 1)])),
  }
}

/** Ends a bespoke WebSocket server of a test: its clients cut, then the server closed. */
export function closeServer(wss: WebSocketServer): Promise<void> {
  return new Promise<void>(resolve => {
    for (const client of wss.clients) client.terminate()
    wss.close(() => resolve())
  })
}
