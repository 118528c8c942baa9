/**
 * A socket's connection is bounded from its start to the server's acknowledgement
 * (`connectTimeout`): a server that accepts the handshake and never acknowledges the token, or a
 * port that accepts TCP and never answers the upgrade, must not leave the socket `connecting` or
 * `authenticating` for good. Against bespoke servers on 127.0.0.1, counting the connections they
 * took and the frames they were sent.
 */
import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket as TcpSocket } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { WebSocketServer } from 'ws'
import { createEventStream, createSocket, type ConnectionError } from '../../src/socket/index.js'
import { waitFor } from '../helpers/index.js'
import { bearerAuth, closeServer, NodeWebSocket, startSocketEnv, type SocketEnv } from './helpers.js'

let env: SocketEnv | undefined
const cleanup: Array<() => unknown> = []

afterEach(async () => {
  for (const done of cleanup.splice(0).reverse()) await done()
  await env?.close()
  env = undefined
})

const CONNECT_TIMEOUT = 300
const FAST = { backoff: { initial: 20, max: 100 }, connectTimeout: CONNECT_TIMEOUT }

/** A WebSocket server that takes every connection and answers nothing until `acknowledge` is set; it records every frame. */
async function silentWs() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const seen = { connections: 0, frames: [] as string[], acknowledge: false }
  wss.on('connection', ws => {
    seen.connections++
    ws.on('message', data => {
      seen.frames.push(JSON.parse(String(data)).type as string)
      if (seen.acknowledge && JSON.parse(String(data)).type === 'auth') ws.send(JSON.stringify({ type: 'authenticated' }))
    })
  })
  cleanup.push(() => closeServer(wss))
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/live`, seen }
}

/** A TCP port that accepts every connection and never answers: the HTTP upgrade hangs. */
async function hangingPort() {
  const seen = { connections: 0 }
  const open = new Set<TcpSocket>()
  const server = createServer(socket => {
    seen.connections++
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.on('error', () => undefined)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanup.push(() => {
    for (const socket of open) socket.destroy()
    return new Promise(resolve => server.close(resolve))
  })
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live`, seen }
}

describe('connectTimeout: a connection that is never acknowledged (or answered) is given up and tried again', () => {
  test('a server that accepts and never acknowledges: each attempt ends connect-failed after the timeout, no subscription is sent, and the socket opens once the server answers', async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const ws = await silentWs()
    const session = await env.bearer({ rotation: 'request' })
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: ws.url, ...bearerAuth, ...FAST })
    env.sockets.push(socket)
    socket.subscribe('news', () => ({ type: 'subscribe', channel: 'news' }))
    const errors: ConnectionError[] = []
    socket.on('error', e => errors.push(e))
    await waitFor(() => ws.seen.connections >= 3, { timeout: 10_000 })
    // Every attempt that was never acknowledged was given up, and a new one followed it.
    await waitFor(() => errors.length >= 2, { timeout: 10_000 })
    expect(errors.every(e => e.reason === 'connect-failed' && e.willRetry)).toBe(true)
    expect(ws.seen.frames.every(type => type === 'auth')).toBe(true)
    ws.seen.acknowledge = true
    await waitFor(() => socket.status === 'open', { timeout: 10_000 })
    await waitFor(() => ws.seen.frames.includes('subscribe'), { timeout: 5_000 })
    // The timeout does not cut the connection that was acknowledged.
    const connections = ws.seen.connections
    await new Promise(resolve => setTimeout(resolve, CONNECT_TIMEOUT * 3))
    expect(socket.status).toBe('open')
    expect(ws.seen.connections).toBe(connections)
    // The session was never asked to rotate: a silent server is no refusal of the token.
    expect(env.server.stats.refreshCalls).toBe(0)
  }, 30_000)

  test('a port that never answers the upgrade: attempts are bounded by the timeout and the backoff, never stuck connecting', async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const port = await hangingPort()
    const session = await env.bearer({ rotation: 'request' })
    const socket = createSocket(session, { WebSocket: NodeWebSocket, url: port.url, ...bearerAuth, ...FAST })
    env.sockets.push(socket)
    const errors: ConnectionError[] = []
    socket.on('error', e => errors.push(e))
    await waitFor(() => port.seen.connections >= 3 && errors.length >= 2, { timeout: 10_000 })
    expect(errors.every(e => e.reason === 'connect-failed' && e.willRetry)).toBe(true)
    // At most one attempt per timeout plus the shortest backoff: no storm against the port.
    const started = Date.now()
    const before = port.seen.connections
    await new Promise(resolve => setTimeout(resolve, 2_000))
    const most = Math.ceil((Date.now() - started) / (CONNECT_TIMEOUT + FAST.backoff.initial / 2)) + 1
    expect(port.seen.connections - before).toBeLessThanOrEqual(most)
    socket.close()
    expect(socket.status).toBe('closed')
  }, 30_000)

  test('a stream whose server never answers its request: each request is aborted after the timeout and tried again', async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const seen = { requests: 0 }
    // The route takes the request and never answers it (its sockets are released with the server).
    cleanup.push(env.server.attach({ request: req => new URL(req.url ?? '/', 'http://x').pathname === '/api/hangs' && (seen.requests++, true) }))
    const session = await env.bearer({ rotation: 'request' })
    const stream = createEventStream(session, { url: `${env.url}/api/hangs`, ...FAST })
    cleanup.push(() => stream.close())
    const errors: ConnectionError[] = []
    stream.on('error', e => errors.push(e))
    await waitFor(() => seen.requests >= 3 && errors.length >= 2, { timeout: 10_000 })
    expect(errors.every(e => e.reason === 'connect-failed' && e.willRetry)).toBe(true)
    expect(env.server.stats.refreshCalls).toBe(0)
  }, 30_000)

  test('connectTimeout must be a number of ms > 0, named in the error', async () => {
    env = await startSocketEnv({ accessTokenTtl: 60_000 })
    const session = await env.bearer({ rotation: 'request' })
    for (const bad of [0, -1, Number.NaN, '5000']) {
      expect(() => createSocket(session, { WebSocket: NodeWebSocket, url: 'ws://127.0.0.1:1/', connectTimeout: bad as number })).toThrow(/connectTimeout/)
      expect(() => createEventStream(session, { url: 'http://127.0.0.1:1/', connectTimeout: bad as number })).toThrow(/connectTimeout/)
    }
  })
})
