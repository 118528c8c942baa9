/** Unit tests for the refresh and logout calls (src/core/refresh-call.ts, refresh.ts): their delays and timeouts come from the session's clock, timers and random source. */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { callRefresh } from '../../src/core/refresh-call.js'
import { callLogout, REFRESH_KIT } from '../../src/core/refresh.js'
import { drain } from '../helpers/index.js'
import { virtualTime } from '../helpers/virtual-time.js'
import type { RefreshCall } from '../../src/core/refresh.js'
import { createClock } from '../../src/utils/timers.js'
import { isRotorError, RotorError } from '../../src/errors.js'

/** A refresh endpoint answering each call with the next of `answers`, counting what it saw. */
async function endpoint(answers: Array<{ status: number; headers?: Record<string, string> }>) {
  const seen: string[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', chunk => (body += chunk))
    req.on('end', () => {
      seen.push(body)
      const answer = answers[Math.min(seen.length - 1, answers.length - 1)]!
      if (answer.status === 200) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ access_token: 'at-2', refresh_token: 'rt-2', expires_in: 60 }))
        return
      }
      res.writeHead(answer.status, answer.headers ?? {})
      res.end()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/token`), seen }
}

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(s => new Promise(resolve => s.close(resolve))))
})

function call(url: URL, overrides: Partial<RefreshCall>): RefreshCall & { retryIns: number[] } {
  const retryIns: number[] = []
  return {
    spec: { kind: 'url', url, style: 'json', clientId: undefined },
    fetch: (input, init) => fetch(input, init),
    headers: new Headers(),
    credentials: undefined,
    refreshToken: 'rt-1',
    signal: new AbortController().signal,
    now: () => Date.now(),
    random: () => 0.5,
    timeout: 5_000,
    retries: 2,
    clock: createClock(),
    kit: REFRESH_KIT,
    onRetry: (_error, retryIn) => retryIns.push(retryIn),
    retryIns,
    ...overrides,
  }
}

describe('callRefresh', () => {
  test("a Retry-After date is read against the session's clock, not the machine's", async () => {
    const date = 'Sun, 22 Nov 2026 12:00:00 GMT'
    // The session's clock says 40 ms before that date; the machine's is days away from it.
    const server = await endpoint([{ status: 503, headers: { 'retry-after': date } }, { status: 200 }])
    const c = call(server.url, { now: () => Date.parse(date) - 40 })
    const tokens = await callRefresh(c)
    expect(tokens.refreshToken).toBe('rt-2')
    expect(c.retryIns).toEqual([40])
    expect(server.seen).toHaveLength(2)
  })

  test('a Retry-After longer than the in-call bound ends the call at once, carrying what the server asked', async () => {
    const server = await endpoint([{ status: 503, headers: { 'retry-after': '3600' } }, { status: 200 }])
    const c = call(server.url, {})
    const error = await callRefresh(c).catch((e: unknown) => e)
    // Not waited out holding the rotation lock: the session's backoff honours it instead.
    expect(error).toMatchObject({ code: 'ERR_REFRESH_HTTP', retryAfter: 3_600_000 })
    expect(c.retryIns).toEqual([])
    expect(server.seen).toHaveLength(1)
  })

  test("a retried answer's body is cancelled: its connection is released, not held until garbage collection", async () => {
    let first: { closed: boolean } | undefined
    const server: Server = createServer((req, res) => {
      req.resume()
      if (first) {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ access_token: 'at-2', refresh_token: 'rt-2', expires_in: 60 }))
      }
      // A 503 whose body keeps coming: only the client giving up on it ends the connection.
      const state: { closed: boolean } = (first = { closed: false })
      res.on('close', () => (state.closed = true))
      res.writeHead(503)
      res.write('busy')
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    servers.push(server)
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/token`)
    await callRefresh(call(url, {}))
    await vi.waitFor(() => expect(first?.closed).toBe(true), { timeout: 5_000 })
  })

  test('the jitter between attempts comes from the injected random source (full jitter of 300 ms doubling)', async () => {
    const server = await endpoint([{ status: 503 }, { status: 502 }, { status: 200 }])
    const c = call(server.url, { random: () => 0.25 })
    await callRefresh(c)
    // Retry 1: a quarter of 300; retry 2: a quarter of 600.
    expect(c.retryIns).toEqual([75, 150])
    expect(server.seen).toEqual([JSON.stringify({ refreshToken: 'rt-1' }), JSON.stringify({ refreshToken: 'rt-1' }), JSON.stringify({ refreshToken: 'rt-1' })])
  })

  /**
   * A refresh whose answer arrives after the wall clock moved by `wallMs` and the monotonic
   * clock by `tickMs` (a clock set back or forward, a sleep): what the grant's deadlines count from.
   */
  async function answeredAcross(wallMs: number, tickMs: number) {
    const start = Date.parse('2026-12-07T08:00:00Z')
    const clocks = { wall: start, tick: 1_000 }
    const c = call(new URL('http://127.0.0.1:9/token'), {
      now: () => clocks.wall,
      monotonic: () => clocks.tick,
      fetch: () => {
        clocks.wall += wallMs
        clocks.tick += tickMs
        return Promise.resolve(Response.json({ access_token: 'at-2', refresh_token: 'rt-2', expires_in: 60 }))
      },
    })
    return { tokens: await callRefresh(c), start, now: clocks.wall }
  }

  test("a wall clock set back while the answer was on its way moves the send time back with it (the grant's deadlines are not pushed that far ahead)", async () => {
    const { tokens, now } = await answeredAcross(-15 * 60_000, 20)
    // Sent 20 ms ago on the monotonic clock: the AT lives 60 s from then on the new wall clock,
    // not 60 s from a reading 15 minutes ahead of it (sim seed 6695: no rotation for 15 min).
    expect(tokens.issuedAt).toBe(now - 20)
    expect(tokens.accessExpiresAt).toBe(now - 20 + 60_000)
  })

  test('a sleep (or a clock set forward) during the call keeps the send time: the AT is counted short, never stretched', async () => {
    const { tokens, start } = await answeredAcross(15 * 60_000, 0)
    expect(tokens.issuedAt).toBe(start)
    expect(tokens.accessExpiresAt).toBe(start + 60_000)
  })

  test('a refusal is not retried: the server sees the RT once', async () => {
    const server = await endpoint([{ status: 401 }])
    const c = call(server.url, {})
    await expect(callRefresh(c)).rejects.toMatchObject({ code: 'ERR_REFRESH_REFUSED' })
    expect(server.seen).toHaveLength(1)
    expect(c.retryIns).toEqual([])
  })
})

describe('callLogout', () => {
  test("gives up on a server that never answers after refreshTimeout of the session's timers", async () => {
    const time = virtualTime()
    let aborted: unknown
    // A logout endpoint that never answers: only the call's own signal ends it.
    const hung: typeof fetch = (_input, init) => new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject((aborted = init.signal!.reason))))
    const cfg = { logoutURL: new URL('https://h/okapi/authn/logout'), headers: new Headers(), transport: 'cookie' as const, refreshTimeout: 5_000, platform: time }
    let settled = false
    const call = callLogout(cfg, hung, {}).then(() => (settled = true))
    time.advance(4_999)
    await Promise.resolve()
    expect(settled).toBe(false)
    time.advance(1)
    await drain()
    expect(settled).toBe(true)
    await call
    expect((aborted as DOMException).name).toBe('TimeoutError')
    // Nothing is left armed once the call is over.
    expect(time.pending()).toBe(0)
  })
})

/** 503 with `retry-after: 10`: the transient answer the retries below wait out. */
const DOWN = { status: 503, headers: { 'retry-after': '10' } }

/** A call whose timers fire at once, recording what they were asked to wait (virtual time: no real 10 s wait). */
function retrying(url: URL, retries: number) {
  const waits: number[] = []
  const reported: unknown[] = []
  const clock: RefreshCall['clock'] = {
    after: (ms, fn) => {
      // The attempt's own give-up timers are long; only the retry delay (Retry-After, 10 s) fires at once.
      if (ms === 10_000) {
        waits.push(ms)
        queueMicrotask(fn)
      }
      return { cancel: () => undefined }
    },
  }
  const c = call(url, { now: () => 0, retries, clock, onRetry: error => reported.push(error) })
  return { c, waits, reported }
}

describe("the refresh call's own retries (which ky made before): a coded error per failed attempt, delays on the session's timers", () => {
  test("a 503's Retry-After is waited on the session's timers, and each failed attempt is a coded RotorError without the RT", async () => {
    const server = await endpoint([...Array(2).fill(DOWN), { status: 200 }])
    const { c, waits, reported } = retrying(server.url, 2)
    const tokens = await callRefresh(c)
    expect(tokens.refreshToken).toBe('rt-2')
    expect(server.seen).toEqual(Array(3).fill(JSON.stringify({ refreshToken: 'rt-1' })))
    expect(waits).toEqual([10_000, 10_000])
    expect(reported).toHaveLength(2)
    for (const error of reported as Array<{ name: string; code: string; response: Response; request: Request; options: { body?: unknown } }>) {
      expect(isRotorError(error)).toBe(true)
      expect(error).toMatchObject({ name: 'HTTPError', code: 'ERR_REFRESH_HTTP' })
      expect(error.response.status).toBe(503)
      expect(error.options.body).toBeUndefined()
      expect(await error.request.text()).toBe('')
    }
  })

  test('past its retries the last 503 is thrown, and the server saw the RT retries + 1 times', async () => {
    const server = await endpoint([DOWN])
    const { c, reported } = retrying(server.url, 1)
    const error = await callRefresh(c).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'HTTPError', code: 'ERR_REFRESH_HTTP', response: { status: 503 } })
    // Its class is made from the page's RotorError (refresh.ts's REFRESH_KIT): caught as every Rotor error is.
    expect(error).toBeInstanceOf(RotorError)
    expect(server.seen).toHaveLength(2)
    expect(reported).toHaveLength(1)
  })
})
