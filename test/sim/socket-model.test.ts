/** The socket server model of `--sockets` against what it stands for: a browser WebSocket's rules, the server's acknowledgement and its 4401 when a token stops working. */
import { describe, expect, test } from 'vitest'
import { Scheduler } from './scheduler.js'
import { AT_TTL, ModelServer } from './server.js'
import { AUTH_CLOSE, SocketServer, type Page } from './socket-server.js'
import { EPOCH } from './tab.js'

/** A page that is always there and runs its tasks at once. */
const page: Page = { id: 't1', disposed: false, run: fn => fn() }

/** Runs the scheduler up to `until` (virtual time moves only by events: a tick takes it there). */
async function runUntil(scheduler: Scheduler, until: number): Promise<void> {
  scheduler.after(until - scheduler.now, 'tick', () => undefined)
  while (await scheduler.step(until));
}

/** `loggedIn`: the jar holds a login's AT cookie before the page opens its socket (the handshake carries the jar as it is then). */
function setup(cookie = false, loggedIn = false) {
  const scheduler = new Scheduler(1)
  const auth = new ModelServer(scheduler, EPOCH)
  if (loggedIn) auth.cookies.set('at', auth.login().accessToken)
  const early: string[] = []
  const server = new SocketServer(scheduler, auth, cookie, detail => early.push(detail))
  let attempts = 0
  const WebSocket = server.constructorFor(page, () => attempts++)
  const ws = new WebSocket('wss://app.sim/live')
  const seen: string[] = []
  ws.onopen = () => seen.push('open')
  ws.onmessage = ({ data }) => seen.push(`message ${String(data)}`)
  ws.onclose = ({ code }) => seen.push(`close ${code}`)
  return { scheduler, auth, server, ws, seen, early, attempts: () => attempts }
}

describe('the socket server model', () => {
  test('a browser WebSocket: send while connecting throws; an attempt is counted per constructor call', () => {
    const { ws, attempts } = setup()
    expect(() => ws.send('{"type":"auth"}')).toThrow(/CONNECTING/)
    expect(attempts()).toBe(1)
  })

  test('bearer: acknowledged after the auth message, then closed 4401 once the token expired', async () => {
    const { scheduler, auth, server, ws, seen, early } = setup()
    const { accessToken } = auth.login()
    await runUntil(scheduler, 1_000)
    expect(seen).toEqual(['open'])
    ws.send(JSON.stringify({ type: 'auth', token: accessToken }))
    await runUntil(scheduler, 2_000)
    expect(seen).toEqual(['open', 'message {"type":"authenticated"}'])
    ws.send(JSON.stringify({ type: 'subscribe' }))
    await runUntil(scheduler, AT_TTL + 1)
    server.check()
    await runUntil(scheduler, AT_TTL + 1_000)
    expect(seen.at(-1)).toBe(`close ${AUTH_CLOSE}`)
    expect(early).toEqual([])
  })

  test('work sent before the acknowledgement reached the page is reported (the SocketCluster failure)', async () => {
    const { scheduler, ws, early } = setup()
    await runUntil(scheduler, 1_000)
    ws.send(JSON.stringify({ type: 'subscribe', channel: 'orders' }))
    expect(early).toEqual(['t1 sent subscribe before the server acknowledged the connection'])
  })

  test('cookie: the jar AT at the handshake authenticates; without one the server closes 4401 after open', async () => {
    const ok = setup(true, true)
    await runUntil(ok.scheduler, 1_000)
    expect(ok.seen).toEqual(['open', 'message {"type":"authenticated"}'])
    const refused = setup(true)
    await runUntil(refused.scheduler, 1_000)
    expect(refused.seen).toEqual(['open', `close ${AUTH_CLOSE}`])
  })

  test('a server that is down refuses the handshake: 1006 before open', async () => {
    const { scheduler, server, seen } = setup()
    server.mood = 'down'
    await runUntil(scheduler, 1_000)
    expect(seen).toEqual(['close 1006'])
  })
})
