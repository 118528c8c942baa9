/**
 * The XMLHttpRequest facade (`src/interceptors/xhr.ts`) in real Chromium. Each test has its own
 * reference server (serving the page on its own origin, so the cookie transport needs no
 * CORS) and its own browser context; the browser is shared by the file. The page
 * (`xhr-page.ts`) calls `session.install(window, { xhr })` (the facade of `rotor-auth/xhr`), so `XMLHttpRequest` is the facade, and records
 * every event each XHR delivers (type, target, `on…` handler or listener, `readyState` and
 * `status` at that moment). What the browser really sent is read from Playwright's request
 * events, what the server saw from `server.log` / `server.stats`. Figures are printed with
 * `[xhr]`.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { buildBundles, bundle, sleep } from './harness'
import { chromiumPath, launchChromium, skipBrowserTests } from './launch'
import type { SetupOptions, XhrEvent, XhrRecord, XhrSpec } from './xhr-page'

const skip = skipBrowserTests()
if (skip) console.warn(`[xhr] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

const fileStarted = performance.now()
const report = (line: string) => console.log(`[xhr] ${line}`)

const PAGE_HTML = `<!doctype html>
<meta charset="utf-8">
<title>rotor-auth xhr</title>
<script src="/rotor.js"></script>
<script src="/xhr.js"></script>
`

/** A request as Chromium sent it (Playwright's view of the network). */
type Seen = { method: string; path: string; headers: Record<string, string>; bodyLength: number; body: string | null }

type Env = {
  server: AuthServer
  origin: string
  context: BrowserContext
  pageErrors: string[]
  /** Every request the pages sent, in order. */
  seen(): Promise<Seen[]>
  open(setup?: SetupOptions): Promise<Page>
}

let browser: Browser | undefined
let files: { rotor: string; page: string } | undefined
const closers: Array<() => Promise<void>> = []

async function startEnv(accessTokenTtl: number, refreshTokenTtl = 60_000): Promise<Env> {
  if (!browser || !files) throw new Error('beforeAll did not run')
  const server = createAuthServer({ accessTokenTtl, refreshTokenTtl })
  const face = await server.listen({
    static: {
      '/xhr.html': { type: 'text/html', body: PAGE_HTML },
      '/rotor.js': { type: 'text/javascript', body: files.rotor },
      '/xhr.js': { type: 'text/javascript', body: files.page },
    },
  })
  const context = await browser.newContext()
  closers.push(async () => {
    await context.close().catch(() => undefined)
    await server.close()
  })
  const pageErrors: string[] = []
  const seen: Seen[] = []
  context.on('request', request => {
    const url = new URL(request.url())
    if (url.pathname.endsWith('.js') || url.pathname.endsWith('.html')) return
    const buffer = request.postDataBuffer()
    seen.push({
      method: request.method(),
      path: url.pathname,
      // headers(): as sent, without the cookie-related ones (allHeaders() would wait for the
      // answer, and a hung refresh never answers).
      headers: request.headers(),
      bodyLength: buffer?.length ?? 0,
      body: buffer && buffer.length < 10_000 ? buffer.toString('utf8') : null,
    })
  })
  const env: Env = {
    server,
    origin: face.origin,
    context,
    pageErrors,
    seen: async () => [...seen],
    async open(setup) {
      const page = await context.newPage()
      page.on('pageerror', error => pageErrors.push(error.message))
      await page.goto(`${face.origin}/xhr.html`)
      await page.waitForFunction(() => window.xt !== undefined)
      if (setup) await page.evaluate(options => window.xt.setup(options), setup)
      return page
    },
  }
  return env
}

/** A second origin: logs every request (method and path) and answers CORS. */
async function startProbe(): Promise<{ origin: string; log: string[] }> {
  const { createServer } = await import('node:http')
  const log: string[] = []
  const server = createServer((req, res) => {
    log.push(`${req.method} ${req.url}`)
    req.resume()
    req.on('end', () => {
      res.setHeader('Access-Control-Allow-Origin', '*')
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT')
        res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? '')
        res.statusCode = 204
        res.end()
        return
      }
      res.setHeader('Content-Type', 'text/plain')
      res.end('ok')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  closers.push(
    () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { origin: `http://127.0.0.1:${address.port}`, log }
}

// ---- page helpers ---------------------------------------------------------------------------

async function login(page: Page, kind: 'folio' | 'bearer' = 'folio'): Promise<void> {
  const status = await page.evaluate(k => window.xt.login(k), kind)
  expect(status, 'login status').toBe(201)
}

const send = (page: Page, spec: XhrSpec) => page.evaluate(s => window.xt.send(s), spec)
const settle = (page: Page, id: number, timeout = 10_000) => page.evaluate(([i, t]) => window.xt.settle(i, t), [id, timeout] as const)
const recordOf = (page: Page, id: number) => page.evaluate(i => window.xt.record(i), id)
const abort = (page: Page, id: number) => page.evaluate(i => window.xt.abort(i), id)
const sessionState = (page: Page) => page.evaluate(() => window.xt.session!.state)
const sessionEvents = (page: Page) => page.evaluate(() => window.xt.events)

/** Until the page's session holds its AT for expired (local clock), plus a margin. */
async function atExpired(page: Page): Promise<void> {
  await page.waitForFunction(() => Date.now() > (window.xt.session!.state.accessExpiresAt ?? Infinity) + 100, undefined, { polling: 20, timeout: 5_000 })
}

async function generationAbove(page: Page, generation: number, timeout = 8_000): Promise<number> {
  const handle = await page.waitForFunction(g => window.xt.session!.state.generation > g && window.xt.session!.state.generation, generation, {
    polling: 20,
    timeout,
  })
  return (await handle.jsonValue()) as number
}

/** Events of one kind of registration on one target. */
function only(record: XhrRecord, via: XhrEvent['via'], target: XhrEvent['target'] = 'xhr'): XhrEvent[] {
  return record.events.filter(e => e.via === via && e.target === target && !e.type.startsWith('('))
}
const count = (events: XhrEvent[], type: string) => events.filter(e => e.type === type).length
/** `type@readyState/status` of the listener events: what the caller saw, compactly. */
const trace = (events: XhrEvent[]) => events.map(e => `${e.target === 'upload' ? 'upload.' : ''}${e.type}@${e.readyState}/${e.status}`)
const apiLog = (server: AuthServer, path: string) => server.log.filter(e => e.path === path)

describe.skipIf(skip)('XMLHttpRequest facade (real Chromium, session.install(window, { xhr }))', () => {
  beforeAll(async () => {
    const [{ rotor }, page, launched] = await Promise.all([buildBundles(), bundle('./xhr-page.ts'), launchChromium()])
    files = { rotor, page }
    browser = launched
  })

  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
  })

  afterAll(async () => {
    await browser?.close()
    report(`file took ${((performance.now() - fileStarted) / 1000).toFixed(1)} s`)
  })

  it('(1) a 2 MB upload with progress behind an expired AT: one refresh, progress seen, 200 delivered', async () => {
    const env = await startEnv(1_000)
    const page = await env.open({ rotation: 'request' })
    await login(page)
    await atExpired(page)
    env.server.resetStats()
    const size = 2 * 1024 * 1024
    const id = await send(page, { method: 'POST', url: '/api/upload', body: { blob: size }, headers: { 'content-type': 'text/plain' } })
    const record = await settle(page, id)
    const stats = { ...env.server.stats }
    const upload = only(record, 'listener', 'upload')
    const uploadOn = only(record, 'on', 'upload')
    const progress = upload.filter(e => e.type === 'progress')
    const downloads = only(record, 'listener').filter(e => e.type === 'progress')
    report(
      `(1) refreshCalls=${stats.refreshCalls} api200=${stats.api200} api401=${stats.api401}; upload progress events=${progress.length} ` +
        `(loaded ${progress.map(e => e.loaded).join(' → ')} of ${progress.at(-1)?.total}); download progress events=${downloads.length}; ` +
        `caller trace: ${trace(only(record, 'listener')).join(' ')}`,
    )
    expect(record.thrown).toBeUndefined()
    expect(record.className).toBe('RotorXMLHttpRequest')
    expect(stats.refreshCalls).toBe(1)
    expect(stats.refreshGranted).toBe(1)
    expect(stats.api401).toBe(0)
    expect(stats.api200).toBe(1)
    // Upload progress: seen by the handler and the listener alike, loaded never decreasing, ending at total.
    expect(progress.length).toBeGreaterThanOrEqual(1)
    expect(uploadOn.filter(e => e.type === 'progress').map(e => e.loaded)).toEqual(progress.map(e => e.loaded))
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.loaded).toBeGreaterThanOrEqual(progress[i - 1]!.loaded!)
    expect(progress.at(-1)).toMatchObject({ lengthComputable: true, loaded: size, total: size })
    expect(count(upload, 'load')).toBe(1)
    expect(count(upload, 'loadend')).toBe(1)
    // Download side and the end.
    expect(downloads.length).toBeGreaterThanOrEqual(1)
    expect(record.final).toMatchObject({ status: 200, readyState: 4, echo: { method: 'POST', path: '/api/upload', bodyLength: size, via: 'cookie' } })
    const main = only(record, 'listener')
    expect(count(main, 'load')).toBe(1)
    expect(count(main, 'loadend')).toBe(1)
    expect(count(main, 'loadstart')).toBe(1)
    expect(count(only(record, 'on'), 'load')).toBe(1)
    expect(count(only(record, 'on'), 'loadend')).toBe(1)
    expect(main.filter(e => e.status === 401)).toEqual([])
    const sent = (await env.seen()).filter(s => s.path === '/api/upload')
    expect(sent.length, 'requests the browser sent to /api/upload').toBe(1)
    expect(env.pageErrors).toEqual([])
  })

  it('(2) a 401 replay is seen by every kind of listener as a single 200', async () => {
    const env = await startEnv(60_000)
    const page = await env.open({ rotation: 'timer' })
    await login(page)
    env.server.resetStats()
    env.server.revokeAccessTokens()
    const body = 'replayed body ✓ 42'
    const id = await send(page, { method: 'POST', url: '/api/replay?x=1', body, headers: { 'content-type': 'text/plain;charset=UTF-8', 'X-Custom': 'custom-1' } })
    const record = await settle(page, id)
    const stats = { ...env.server.stats }
    const listener = only(record, 'listener')
    const handler = only(record, 'on')
    const upload = only(record, 'listener', 'upload')
    report(`(2) server: api401=${stats.api401} api200=${stats.api200} refreshCalls=${stats.refreshCalls}; caller trace: ${trace([...listener, ...upload]).join(' ')}`)

    expect(record.thrown).toBeUndefined()
    // No listener of any kind ever observed the 401.
    expect(
      record.events.filter(e => e.status === 401),
      'events that saw status 401',
    ).toEqual([])
    expect(record.events.filter(e => e.status !== 0 && e.status !== 200)).toEqual([])
    for (const events of [listener, handler]) {
      expect(count(events, 'load')).toBe(1)
      expect(count(events, 'loadend')).toBe(1)
      expect(count(events, 'loadstart')).toBe(1)
      expect(count(events, 'error') + count(events, 'abort') + count(events, 'timeout')).toBe(0)
      expect(events.find(e => e.type === 'load')).toMatchObject({ readyState: 4, status: 200 })
      expect(events.find(e => e.type === 'loadend')).toMatchObject({ readyState: 4, status: 200 })
      // readyState as the caller sees it: 1, 2, 3…, 4 once and last.
      const states = events.filter(e => e.type === 'readystatechange').map(e => e.readyState)
      expect(states[0]).toBe(1)
      expect(states.at(-1)).toBe(4)
      expect(states.filter(s => s === 4)).toHaveLength(1)
      expect(states).toContain(2)
      for (let i = 1; i < states.length; i++) expect(states[i]!).toBeGreaterThanOrEqual(states[i - 1]!)
      for (const e of events.filter(e => e.type === 'readystatechange' && e.readyState >= 2)) expect(e.status).toBe(200)
    }
    // The order of handler vs listener calls is the registration order (handler first here).
    expect(handler.map(e => e.type)).toEqual(listener.map(e => e.type))
    expect(record.final).toMatchObject({ status: 200, echo: { method: 'POST', path: '/api/replay', bodyHead: body, via: 'cookie' } })
    // Server: one 401, one 200, one refresh.
    expect(stats.api401).toBe(1)
    expect(stats.api200).toBe(1)
    expect(stats.refreshCalls).toBe(1)
    // Both attempts carried the same method, body and custom header.
    const sent = (await env.seen()).filter(s => s.path === '/api/replay')
    expect(sent).toHaveLength(2)
    for (const s of sent) {
      expect(s.method).toBe('POST')
      expect(s.body).toBe(body)
      expect(s.headers['x-custom']).toBe('custom-1')
      expect(s.headers['content-type']).toBe('text/plain;charset=UTF-8')
    }
    // A single request: its upload ends once, like a native one (loadstart … loadend once).
    expect(count(upload, 'loadstart'), 'upload loadstart events the caller saw').toBe(1)
    expect(count(upload, 'loadend'), 'upload loadend events the caller saw').toBe(1)
    expect(env.pageErrors).toEqual([])
  })

  it('(3) axios (default adapter = xhr) through an installed session in two tabs: no reused RT, no 401', async () => {
    const env = await startEnv(2_000)
    const tabs = [await env.open({ rotation: 'timer' }), await env.open({ rotation: 'timer' })]
    await login(tabs[0]!)
    await tabs[1]!.waitForFunction(() => window.xt.session!.state.status === 'active', undefined, { timeout: 2_000 })
    const adapters = await Promise.all(tabs.map(t => t.evaluate(() => window.xt.axiosAdapter())))
    expect(adapters).toEqual(['xhr', 'xhr'])
    const before = { ...env.server.stats }
    const results = await Promise.all(tabs.map(t => t.evaluate(() => window.xt.axiosLoop('/api/ping', 100, 8_000))))
    const stats = { ...env.server.stats }
    const refreshCalls = stats.refreshCalls - before.refreshCalls
    const states = await Promise.all(tabs.map(sessionState))
    report(
      `(3) axios adapter=${adapters[0]}; calls per tab=${results.map(r => r.sent).join('/')}, 200s=${results.map(r => r.ok).join('/')}; ` +
        `refreshCalls=${refreshCalls} granted=${stats.refreshGranted - before.refreshGranted} reused=${stats.reusedRefused} api401=${stats.api401} api200=${stats.api200}; ` +
        `request classes=${results.map(r => r.requestClasses.join('+')).join(' / ')}; generations=${states.map(s => s.generation).join('/')}`,
    )
    expect(stats.reusedRefused).toBe(0)
    expect(stats.refreshRefused).toBe(0)
    expect(stats.api401).toBe(0)
    expect(refreshCalls).toBeGreaterThanOrEqual(3)
    expect(refreshCalls).toBeLessThanOrEqual(6)
    for (const [i, r] of results.entries()) {
      expect(r.errors, `tab ${i} errors`).toEqual([])
      expect(r.other, `tab ${i} non-200 answers`).toEqual({})
      expect(r.ok, `tab ${i} 200s`).toBe(r.sent)
      expect(r.sent).toBeGreaterThanOrEqual(40)
      expect(r.requestClasses, `tab ${i}: class of response.request`).toEqual(['RotorXMLHttpRequest'])
      expect(r.allFacade).toBe(true)
    }
    expect(states[0]!.generation).toBe(states[1]!.generation)
    expect(env.pageErrors).toEqual([])
  }, 20_000)

  it('(4a) abort while queued for a hung refresh: abort + loadend once, never sent, even after the next rotation', async () => {
    const env = await startEnv(1_000)
    const page = await env.open({ rotation: 'request' })
    await login(page)
    const generation = (await sessionState(page)).generation
    await atExpired(page)
    env.server.resetStats()
    env.server.fault('refresh', { hang: true })
    const id = await send(page, { method: 'POST', url: '/api/queued', body: 'queued body' })
    await expect.poll(() => env.server.stats.refreshCalls, { timeout: 2_000 }).toBe(1)
    await sleep(100)
    const waiting = await recordOf(page, id)
    expect(trace(only(waiting, 'listener')), 'while queued').toEqual(['readystatechange@1/0', 'loadstart@1/0'])
    const aborted = await abort(page, id)
    const listener = only(aborted, 'listener')
    const afterQueuedAbort = trace(only(aborted, 'listener')).slice(2)
    report(
      `(4a) abort while queued, caller saw: ${afterQueuedAbort.join(' ')} + upload: ${trace(only(aborted, 'listener', 'upload')).join(' ') || '(none)'}; readyState after abort() ${aborted.events.at(-1)!.readyState}`,
    )
    expect(afterQueuedAbort).toEqual(['readystatechange@4/0', 'abort@4/0', 'loadend@4/0'])
    expect(count(only(aborted, 'on'), 'abort')).toBe(1)
    expect(count(only(aborted, 'on'), 'loadend')).toBe(1)
    expect(aborted.events.at(-1)).toMatchObject({ type: '(abort returned)', readyState: 0, status: 0 })
    expect(count(listener, 'load') + count(listener, 'error')).toBe(0)

    // Release the hung refresh: the session retries and rotates; the aborted request stays unsent.
    env.server.releaseHung()
    const next = await generationAbove(page, generation)
    await sleep(300)
    const later = await recordOf(page, id)
    expect(later.events.length, 'events after the abort').toBe(aborted.events.length)
    expect(apiLog(env.server, '/api/queued'), 'server log for /api/queued').toEqual([])
    expect((await env.seen()).filter(s => s.path === '/api/queued')).toEqual([])
    report(`(4a) after releaseHung: generation ${generation} → ${next}, refreshCalls=${env.server.stats.refreshCalls}; /api/queued never reached the server`)
    expect(env.pageErrors).toEqual([])
  })

  it('(4b) abort while queued, then the same object re-opened and sent again while still queued: sent once', async () => {
    const env = await startEnv(1_000)
    const page = await env.open({ rotation: 'request' })
    await login(page)
    const generation = (await sessionState(page)).generation
    await atExpired(page)
    env.server.resetStats()
    env.server.fault('refresh', { hang: true })
    const id = await send(page, { method: 'POST', url: '/api/first', body: 'first' })
    await expect.poll(() => env.server.stats.refreshCalls, { timeout: 2_000 }).toBe(1)
    await abort(page, id)
    // The caller reuses the object (XHR allows open() after abort()).
    await page.evaluate(i => window.xt.resend(i, { method: 'POST', url: '/api/second', body: 'second' }), id)
    env.server.releaseHung()
    await generationAbove(page, generation)
    const record = await settle(page, id)
    await sleep(300)
    const second = apiLog(env.server, '/api/second')
    const after = record.events.slice(record.events.findIndex(e => e.type === '(resend)') + 1)
    report(
      `(4b) server log: /api/first ×${apiLog(env.server, '/api/first').length}, /api/second ×${second.length}; caller after re-send: ${trace(after.filter(e => e.via === 'listener')).join(' ')}`,
    )
    expect(apiLog(env.server, '/api/first')).toEqual([])
    expect(
      second.map(e => e.status),
      'server log for /api/second',
    ).toEqual([200])
    expect(
      count(
        after.filter(e => e.via === 'listener' && e.target === 'xhr'),
        'loadend',
      ),
    ).toBe(1)
    expect(record.final).toMatchObject({ status: 200, echo: { path: '/api/second', bodyHead: 'second' } })
    expect(env.pageErrors).toEqual([])
  })

  it('(4c) abort while waiting for the rotation before a replay: no 401 seen, no replay sent', async () => {
    const env = await startEnv(60_000)
    const page = await env.open({ rotation: 'timer' })
    await login(page)
    const generation = (await sessionState(page)).generation
    env.server.resetStats()
    env.server.revokeAccessTokens()
    env.server.fault('refresh', { hang: true })
    const id = await send(page, { method: 'POST', url: '/api/replay-wait', body: 'r' })
    await expect.poll(() => env.server.stats.refreshCalls, { timeout: 2_000 }).toBe(1)
    await sleep(100)
    expect(env.server.stats.api401).toBe(1)
    const waiting = await recordOf(page, id)
    expect(waiting.events.filter(e => e.status === 401)).toEqual([])
    // The first attempt's upload finished (its upload events are not the 401); the request did not.
    expect(waiting.events.filter(e => e.target === 'xhr' && e.type === 'loadend')).toEqual([])
    const aborted = await abort(page, id)
    const listener = only(aborted, 'listener')
    report(`(4c) abort during the replay wait, caller saw: ${trace(listener).join(' ')}; upload: ${trace(only(aborted, 'listener', 'upload')).join(' ')}`)
    expect(aborted.events.filter(e => e.status === 401)).toEqual([])
    expect(trace(listener).slice(-3)).toEqual(['readystatechange@4/0', 'abort@4/0', 'loadend@4/0'])
    expect(count(listener, 'abort')).toBe(1)
    expect(count(listener, 'loadend')).toBe(1)
    expect(count(listener, 'load') + count(listener, 'error')).toBe(0)
    expect(aborted.events.at(-1)).toMatchObject({ type: '(abort returned)', readyState: 0, status: 0 })
    env.server.releaseHung()
    await generationAbove(page, generation)
    await sleep(300)
    expect(
      apiLog(env.server, '/api/replay-wait').map(e => e.status),
      'the 401 only, no replay',
    ).toEqual([401])
    expect((await recordOf(page, id)).events.length).toBe(aborted.events.length)
    expect(env.pageErrors).toEqual([])
  })

  it('(4d) abort of a request in flight and after it completed behaves like the native XHR', async () => {
    const env = await startEnv(60_000)
    const page = await env.open({ rotation: 'timer' })
    await login(page)
    env.server.setLatency(500)
    const runs: Record<string, string[]> = {}
    for (const native of [true, false]) {
      const id = await send(page, { method: 'POST', url: `/api/slow-${native ? 'native' : 'facade'}`, body: 'slow', native })
      await sleep(150)
      const r = await abort(page, id)
      await sleep(100)
      const final = await recordOf(page, id)
      runs[native ? 'native' : 'facade'] = trace(final.events.filter(e => e.via === 'listener' || e.type.startsWith('(')))
      expect(r.events.length).toBe(final.events.length)
    }
    env.server.setLatency(0)
    for (const native of [true, false]) {
      const id = await send(page, { method: 'GET', url: '/api/done', native })
      await settle(page, id)
      await abort(page, id)
      await sleep(100)
      const final = await recordOf(page, id)
      runs[`${native ? 'native' : 'facade'} after load`] = trace(final.events.filter(e => e.via === 'listener' || e.type.startsWith('(')))
    }
    // open() again on a request in flight (allowed: it terminates the first one, silently).
    env.server.setLatency(300)
    for (const native of [true, false]) {
      const id = await send(page, { method: 'GET', url: `/api/reopen-1`, native })
      await sleep(100)
      await page.evaluate(i => window.xt.resend(i, { method: 'GET', url: '/api/reopen-2' }), id)
      const final = await settle(page, id)
      runs[`${native ? 'native' : 'facade'} reopen`] = trace(final.events.filter(e => e.via === 'listener' || e.type.startsWith('(')))
    }
    env.server.setLatency(0)
    report(`(4d) abort in flight, native: ${runs.native!.join(' ')}`)
    report(`(4d) abort in flight, facade: ${runs.facade!.join(' ')}`)
    report(`(4d) abort after load, native: ${runs['native after load']!.join(' ')}`)
    report(`(4d) abort after load, facade: ${runs['facade after load']!.join(' ')}`)
    report(`(4d) open() again in flight, native: ${runs['native reopen']!.join(' ')}`)
    report(`(4d) open() again in flight, facade: ${runs['facade reopen']!.join(' ')}`)
    expect(runs.facade).toEqual(runs.native)
    expect.soft(runs['facade reopen'], 'open() again on a request in flight').toEqual(runs['native reopen'])
    expect.soft(runs['facade after load'], 'abort() after load').toEqual(runs['native after load'])
    expect(env.pageErrors).toEqual([])
  })

  it('(5) the session ends while an XHR waits: error + loadend, status 0, logout "rejected"', async () => {
    const env = await startEnv(1_000)
    const page = await env.open({ rotation: 'request' })
    await login(page)
    await atExpired(page)
    env.server.resetStats()
    env.server.fault('refresh', { status: 422 })
    const id = await send(page, { method: 'GET', url: '/api/ping' })
    const record = await settle(page, id)
    const listener = only(record, 'listener')
    const events = await sessionEvents(page)
    report(`(5) caller saw: ${trace(listener).join(' ')}; session events: ${events.map(e => e.type + ('reason' in e ? `(${e.reason})` : '')).join(', ')}`)
    expect(trace(listener)).toEqual(['readystatechange@1/0', 'loadstart@1/0', 'readystatechange@4/0', 'error@4/0', 'loadend@4/0'])
    expect(count(only(record, 'on'), 'error')).toBe(1)
    expect(record.final).toMatchObject({ status: 0, readyState: 4 })
    expect(events.filter(e => e.type === 'logout')).toMatchObject([{ type: 'logout', reason: 'rejected', origin: 'local' }])
    expect((await sessionState(page)).status).toBe('signed-out')
    expect(env.server.stats.refreshCalls).toBe(1)
    expect(apiLog(env.server, '/api/ping')).toEqual([])
    expect(env.pageErrors).toEqual([])
  })

  it('(6) an out-of-scope XHR is not held and gets no Authorization (bearer, scope /api/private)', async () => {
    const env = await startEnv(1_000)
    const page = await env.open({
      rotation: 'request',
      transport: 'bearer',
      scopePath: '/api/private',
      refreshPath: '/bearer/refresh',
      refreshStyle: 'json',
      noLogout: true,
    })
    await login(page, 'bearer')
    const privateId = await send(page, { method: 'GET', url: '/api/private/x' })
    const publicId = await send(page, { method: 'GET', url: '/api/public' })
    const [priv, pub] = [await settle(page, privateId), await settle(page, publicId)]
    expect(priv.final).toMatchObject({ status: 200, echo: { path: '/api/private/x', via: 'bearer' } })
    expect(pub.final).toMatchObject({ status: 401, text: 'Missing access token' })
    const seen = await env.seen()
    expect(seen.find(s => s.path === '/api/private/x')?.headers.authorization).toMatch(/^Bearer ey/)
    expect(seen.find(s => s.path === '/api/public')?.headers).not.toHaveProperty('authorization')

    // With the AT expired and the refresh hanging, an in-scope XHR waits; out-of-scope ones go at once.
    await atExpired(page)
    env.server.resetStats()
    env.server.fault('refresh', { hang: true })
    const held = await send(page, { method: 'GET', url: '/api/private/y' })
    const started = Date.now()
    const elsewhere = await settle(page, await send(page, { method: 'GET', url: '/elsewhere' }))
    const pub2 = await settle(page, await send(page, { method: 'GET', url: '/api/public' }))
    const tookMs = Date.now() - started
    await expect.poll(() => env.server.stats.refreshCalls, { timeout: 2_000 }).toBe(1)
    const heldRecord = await recordOf(page, held)
    report(
      `(6) out of scope with a hung refresh: /elsewhere ${elsewhere.final?.status}, /api/public ${pub2.final?.status} in ${tookMs} ms; /api/private/y held: ${!heldRecord.done}`,
    )
    expect(elsewhere.final?.status).toBe(404)
    expect(pub2.final?.status).toBe(401)
    expect(heldRecord.done).toBe(false)
    expect(apiLog(env.server, '/api/private/y')).toEqual([])
    const seen2 = await env.seen()
    for (const s of seen2.filter(s => s.path === '/elsewhere' || s.path === '/api/public')) expect(s.headers).not.toHaveProperty('authorization')
    const releasedAt = Date.now()
    env.server.releaseHung()
    const released = await settle(page, held)
    report(`(6) the held XHR settled ${Date.now() - releasedAt} ms after releaseHung; session events ${JSON.stringify(await sessionEvents(page))}`)
    expect(released.final).toMatchObject({ status: 200, echo: { path: '/api/private/y', via: 'bearer' } })
    expect(env.pageErrors).toEqual([])
  })

  it('(6b) an out-of-scope cross-origin XHR goes out as the native one does (no forced CORS preflight)', async () => {
    const env = await startEnv(60_000)
    const probe = await startProbe()
    const page = await env.open({ rotation: 'timer' })
    await login(page)
    const results: Record<string, string[]> = {}
    for (const native of [true, false]) {
      const before = probe.log.length
      // A CORS-simple POST with no upload listeners: the browser sends it without a preflight.
      const record = await settle(
        page,
        await send(page, { method: 'POST', url: `${probe.origin}/${native ? 'native' : 'facade'}`, body: 'x', uploadListeners: false, native }),
      )
      expect(record.final?.status).toBe(200)
      results[native ? 'native' : 'facade'] = probe.log.slice(before)
    }
    report(`(6b) a second origin saw, native: ${results.native!.join(', ')}; facade: ${results.facade!.join(', ')}`)
    expect(results.native).toEqual(['POST /native'])
    expect(results.facade, 'requests the other origin received from the facade').toEqual(['POST /facade'])
    expect(env.pageErrors).toEqual([])
  })

  it('(7) uninstall() restores the original XMLHttpRequest; install() twice does not nest', async () => {
    const env = await startEnv(60_000)
    const page = await env.open({ install: false })
    const result = await page.evaluate(() => {
      const session = window.xt.session!
      const original = window.XMLHttpRequest
      const originalFetch = window.fetch
      const un1 = session.install(window, { xhr: window.xt.xhr })
      const first = window.XMLHttpRequest
      const un2 = session.install(window, { xhr: window.xt.xhr })
      const second = window.XMLHttpRequest
      const facadeName = new window.XMLHttpRequest().constructor.name
      const facadePrototypeIsOriginal = Object.getPrototypeOf(first) === original
      un1()
      const restored = window.XMLHttpRequest === original && window.fetch === originalFetch
      const plainAfter = new window.XMLHttpRequest() instanceof original && new window.XMLHttpRequest().constructor === original
      un2() // a second uninstall is harmless
      const stillRestored = window.XMLHttpRequest === original
      const unFetchOnly = session.install(window, { xhr: false })
      const xhrUntouched = window.XMLHttpRequest === original && window.fetch !== originalFetch
      unFetchOnly()
      session.install(window, { xhr: window.xt.xhr })
      const again = window.XMLHttpRequest !== original
      session.dispose()
      const afterDispose = window.XMLHttpRequest === original && window.fetch === originalFetch
      return {
        changed: first !== original,
        sameClass: first === second,
        sameUninstall: un1 === un2,
        facadeName,
        facadePrototypeIsOriginal,
        restored,
        plainAfter,
        stillRestored,
        xhrUntouched,
        again,
        afterDispose,
      }
    })
    report(`(7) ${JSON.stringify(result)}`)
    expect(result).toMatchObject({
      changed: true,
      sameClass: true,
      sameUninstall: true,
      facadeName: 'RotorXMLHttpRequest',
      restored: true,
      plainAfter: true,
      stillRestored: true,
      xhrUntouched: true,
      again: true,
      afterDispose: true,
    })
    expect(env.pageErrors).toEqual([])
  })

  // A synchronous XHR blocks the page's only thread: it cannot wait for a rotation (the
  // refresh answer could never be processed), so the facade sends it at once, as it is, with
  // whatever AT the cookies hold. Apps that need rotation must use asynchronous XHR or fetch.
  it('(8) a synchronous XHR passes through without waiting (it cannot wait for a rotation)', async () => {
    const env = await startEnv(1_000)
    const page = await env.open({ rotation: 'request' })
    await login(page)
    const nativeRecord = await settle(page, await send(page, { method: 'GET', url: '/api/sync-native', async: false, native: true }))
    const fresh = await settle(page, await send(page, { method: 'GET', url: '/api/sync-fresh', async: false }))
    await atExpired(page)
    env.server.resetStats()
    // An expired AT: a synchronous request goes out as it is (the server answers 401); nothing rotates.
    const stale = await settle(page, await send(page, { method: 'GET', url: '/api/sync-stale', async: false }))
    report(
      `(8) native sync: ${nativeRecord.thrown ?? trace(only(nativeRecord, 'listener')).join(' ')}; facade sync (fresh AT): ${fresh.thrown ?? trace(only(fresh, 'listener')).join(' ')}; ` +
        `facade sync (expired AT): ${stale.thrown ?? `${stale.final?.status}`}, refreshCalls=${env.server.stats.refreshCalls}`,
    )
    expect(nativeRecord.thrown).toBeUndefined()
    expect(fresh.thrown, 'facade, synchronous send()').toBeUndefined()
    expect(fresh.afterSend).toEqual({ readyState: 4, status: 200 })
    expect(fresh.final).toMatchObject({ status: 200, echo: { path: '/api/sync-fresh' } })
    expect(trace(only(fresh, 'listener'))).toEqual(trace(only(nativeRecord, 'listener')))
    expect(stale.thrown).toBeUndefined()
    expect(stale.afterSend).toEqual({ readyState: 4, status: 401 })
    expect(env.server.stats.refreshCalls).toBe(0)
    expect(apiLog(env.server, '/api/sync-stale').map(e => e.status)).toEqual([401])
    expect(env.pageErrors).toEqual([])
  })
  it('(9) xhr.timeout runs while the request is queued for a rotation', async () => {
    const env = await startEnv(1_000)
    const page = await env.open({ rotation: 'request' })
    await login(page)
    const generation = (await sessionState(page)).generation
    await atExpired(page)
    env.server.resetStats()
    env.server.fault('refresh', { hang: true })
    const id = await send(page, { method: 'GET', url: '/api/timeout', timeout: 300 })
    // The refresh stays hung until released below: the timeout must fire before that.
    await expect.poll(async () => count(only(await recordOf(page, id), 'listener'), 'loadend'), { timeout: 5_000, interval: 20 }).toBe(1)
    const timedOut = await recordOf(page, id)
    env.server.releaseHung()
    await generationAbove(page, generation)
    // Sentinel: a request sent after the rotation and answered. Had the timed-out request been
    // let go when the queue was released, it would have gone out (and been heard) before this one.
    expect((await settle(page, await send(page, { method: 'GET', url: '/api/after-rotation' }))).final?.status).toBe(200)
    const end = await recordOf(page, id)
    const listener = only(end, 'listener')
    report(
      `(9) timeout 300 ms, refresh hung: the caller saw ${trace(only(timedOut, 'listener')).join(' ')}; in the end ` +
        `${listener.map(e => `${e.type}@${e.readyState}/${e.status}+${Math.round(e.at)}ms`).join(' ')}; server log /api/timeout: ${JSON.stringify(apiLog(env.server, '/api/timeout').map(e => e.status))}`,
    )
    expect(trace(only(timedOut, 'listener')), 'events with timeout = 300, the refresh still hung').toEqual([
      'readystatechange@1/0',
      'loadstart@1/0',
      'readystatechange@4/0',
      'timeout@4/0',
      'loadend@4/0',
    ])
    expect(count(listener, 'load')).toBe(0)
    expect(apiLog(env.server, '/api/timeout')).toEqual([])
    expect(env.pageErrors).toEqual([])
  })
})
