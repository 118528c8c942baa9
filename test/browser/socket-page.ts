/**
 * The script of `/socket.html`, one browser tab of the socket test: a cookie-transport session
 * (shared with the other tabs through the library's channel and Web Locks) and one
 * `rotor-auth/socket` feed subscribed to channel `feed`, resuming after the last seq it saw.
 * Everything the test reads is plain data under `window.socketTab.stats`.
 */
import { createSession } from '../../src/index.js'
import { createSocket, type RotorSocket } from '../../src/socket/index.js'

export type SocketTabStats = {
  /** Seqs of channel `feed` received, in order. */
  seqs: number[]
  /** Generation of every authenticated (re)connect. */
  opens: number[]
  disconnects: Array<{ code: number; auth: boolean }>
  closes: string[]
  rotations: { local: number; remote: number }
  rotateErrors: string[]
}

declare global {
  interface Window {
    socketTab: {
      stats: SocketTabStats
      generation(): number
      login(): Promise<number>
      open(): void
      logout(): Promise<void>
    }
  }
}

const session = createSession({ scope: location.origin, headers: { 'X-Okapi-Tenant': 'diku' }, rotation: 'timer' })
const stats: SocketTabStats = { seqs: [], opens: [], disconnects: [], closes: [], rotations: { local: 0, remote: 0 }, rotateErrors: [] }
session.on('rotate', ({ origin }) => (stats.rotations[origin] += 1))
session.on('rotate-error', ({ error }) => stats.rotateErrors.push(String(error)))
let socket: RotorSocket | undefined
let last = 0

window.socketTab = {
  stats,
  generation: () => session.state.generation,
  async login() {
    const response = await fetch('/authn/login-with-expiry', {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': 'diku' },
      body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
    })
    if (response.ok) await session.start(response)
    return response.status
  },
  open() {
    // The handshake carries the AT cookie: no auth message, and after a rotation a reconnect.
    socket = createSocket(session, { url: `${location.origin.replace(/^http/, 'ws')}/ws`, quiet: 20 })
    socket.on('open', ({ generation }) => stats.opens.push(generation))
    socket.on('disconnect', ({ code, auth }) => stats.disconnects.push({ code, auth }))
    socket.on('close', ({ reason }) => stats.closes.push(reason))
    socket.on('message', message => {
      const m = message as { type?: string; seq?: number }
      if (m.type !== 'message' || m.seq === undefined) return
      stats.seqs.push(m.seq)
      last = Math.max(last, m.seq)
    })
    socket.subscribe('feed', () => ({ type: 'subscribe', channel: 'feed', after: last }))
  },
  logout: () => session.logout(),
}
