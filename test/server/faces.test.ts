/** Face-specific behaviour: the HTTP server's lifecycle, the msw handlers, the bare model. */
import { setupServer } from 'msw/node'
import { http, HttpResponse } from 'msw'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { cookieFetch, createAuthServer, type AuthServer } from '../../src/testing/index.js'

const TENANT = { 'X-Okapi-Tenant': 'diku', 'Content-Type': 'application/json' }
const CREDS = JSON.stringify({ username: 'diku_admin', password: 'admin' })

describe('HTTP face', () => {
  let server: AuthServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('listens on 127.0.0.1 with an ephemeral port; url includes basePath; server.url follows', async () => {
    server = createAuthServer({ basePath: '/okapi' })
    expect(server.url).toBeUndefined()
    const face = await server.listen()
    expect(face.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/okapi$/)
    expect(face.origin).toBe(`http://127.0.0.1:${face.port}`)
    expect(server.url).toBe(face.url)
    await expect(server.listen()).rejects.toThrow(/already listening/)
    await face.close()
    await face.close() // idempotent
    expect(server.url).toBeUndefined()
    await expect(fetch(`${face.url}/api/x`)).rejects.toThrow(TypeError)
    // can listen again
    const again = await server.listen()
    expect((await fetch(`${again.url}/api/x`)).status).toBe(401)
  })

  it('close() resolves promptly with keep-alive sockets and hung requests open', async () => {
    server = createAuthServer()
    const { url, close } = await server.listen()
    // keep-alive sockets left in undici's pool
    await Promise.all(Array.from({ length: 4 }, () => fetch(`${url}/api/x`).then(r => r.text())))
    server.fault('api', { hang: true, times: 3 })
    const hung = Array.from({ length: 3 }, (_, i) => fetch(`${url}/api/${i}`))
    for (const h of hung) h.catch(() => {})
    await new Promise(r => setTimeout(r, 30))
    const t0 = performance.now()
    await close()
    expect(performance.now() - t0).toBeLessThan(500)
    for (const h of hung) await expect(h).rejects.toThrow(TypeError)
  })

  it('sends several Set-Cookie headers and its own Date header', async () => {
    server = createAuthServer({ clockOffset: -3_600_000 })
    const { url } = await server.listen()
    const before = Date.now()
    const res = await fetch(`${url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT, body: CREDS })
    expect(res.headers.getSetCookie()).toHaveLength(2)
    const date = Date.parse(res.headers.get('date')!)
    expect(Math.abs(date - (before - 3_600_000))).toBeLessThan(2_000)
  })
})

describe('msw face', () => {
  it('Set-Cookie of mocked answers reaches the caller and cookieFetch; msw adds no cookies of its own', async () => {
    const server = createAuthServer()
    const msw = setupServer(...(await server.handlers('http://auth.test/')))
    msw.listen({ onUnhandledRequest: 'error' })
    try {
      const raw = await fetch('http://auth.test/authn/login-with-expiry', { method: 'POST', headers: TENANT, body: CREDS })
      expect(raw.headers.getSetCookie()).toHaveLength(2)
      // a fresh request without a jar carries no cookie: msw did not store the answer's cookies
      const anon = await fetch('http://auth.test/authn/refresh', { method: 'POST', headers: TENANT })
      expect(anon.status).toBe(401)
      const f = cookieFetch()
      await f('http://auth.test/authn/login-with-expiry', { method: 'POST', headers: TENANT, body: CREDS })
      expect(await f.cookieString('http://auth.test/authn/refresh')).toMatch(/^folioRefreshToken=.+; folioAccessToken=.+$/)
      expect((await f('http://auth.test/api/me')).status).toBe(200)
      // other origins stay unhandled (msw errors on them)
      await expect(fetch('http://elsewhere.test/api/me')).rejects.toThrow()
    } finally {
      msw.close()
    }
  })

  it("survives msw's own cookie store: cookies stored from HttpResponse answers come after the jar's", async () => {
    // msw (Node) stores Set-Cookie of `HttpResponse` answers process-wide and appends them to
    // the Cookie header of later requests to that URL. Our parser takes the first cookie of a
    // name, which is the jar's own.
    const server = createAuthServer()
    const msw = setupServer(
      http.get('http://auth.test/set', () => new HttpResponse(null, { headers: { 'Set-Cookie': 'folioAccessToken=junk; Path=/' } })),
      ...(await server.handlers()),
    )
    msw.listen({ onUnhandledRequest: 'error' })
    try {
      await fetch('http://auth.test/set')
      const f = cookieFetch()
      await f('http://auth.test/authn/login-with-expiry', { method: 'POST', headers: TENANT, body: CREDS })
      expect((await f('http://auth.test/api/x')).status).toBe(200)
      expect((await fetch('http://auth.test/api/x')).status).toBe(401)
    } finally {
      msw.close()
    }
  })
})

describe('the model without a face: server.handle()', () => {
  it('takes a request-ish object and answers status, headers (several Set-Cookie) and body', async () => {
    const server = createAuthServer({ now: () => 1_000_000_000_000 })
    const out = await server.handle({
      method: 'POST',
      path: '/authn/login-with-expiry',
      headers: { 'x-okapi-tenant': 'diku' },
      body: CREDS,
    })
    expect(out.type).toBe('response')
    if (out.type !== 'response') return
    expect(out.response.status).toBe(201)
    expect(out.response.headers.filter(([k]) => k === 'Set-Cookie')).toHaveLength(2)
    expect(out.response.headers).toContainEqual(['Date', new Date(1_000_000_000_000).toUTCString()])
    server.fault('api', { drop: true })
    expect(await server.handle({ method: 'GET', path: 'http://x.test/api', headers: {}, body: '' })).toEqual({ type: 'drop' })
    server.fault('api', { hang: true })
    const hung = await server.handle({ method: 'GET', path: '/api', headers: {}, body: '' })
    expect(hung.type).toBe('hang')
    if (hung.type === 'hang') {
      server.releaseHung()
      await hung.released
    }
  })
})

describe('latency', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.restoreAllMocks()
  })

  it('0 never schedules a timer', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout')
    const server = createAuthServer()
    await server.handle({ method: 'GET', path: '/api/x', headers: {}, body: '' })
    expect(spy).not.toHaveBeenCalled()
  })

  it('delays the outcome by `latency` ms (fake timers), changeable with setLatency()', async () => {
    vi.useFakeTimers()
    const server = createAuthServer({ latency: 250 })
    let done = false
    const p = server.handle({ method: 'GET', path: '/api/x', headers: {}, body: '' }).then(o => {
      done = true
      return o
    })
    await vi.advanceTimersByTimeAsync(249)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(done).toBe(true)
    expect((await p).type).toBe('response')
    server.setLatency(0)
    const q = await server.handle({ method: 'GET', path: '/api/x', headers: {}, body: '' })
    expect(q.type).toBe('response')
    expect(() => server.setLatency(-1)).toThrow(TypeError)
  })

  it('server.close() releases hung requests of the msw face too', async () => {
    const server = createAuthServer()
    server.fault('refresh', { hang: true })
    const out = await server.handle({ method: 'POST', path: '/authn/refresh', headers: {}, body: '' })
    expect(out.type).toBe('hang')
    if (out.type === 'hang') {
      await server.close()
      await out.released
    }
  })
})

describe('HTTP face: static files', () => {
  let server: AuthServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('serves listen({ static }) files on the auth origin: GET/HEAD, 200, no auth, query ignored, outside the model', async () => {
    server = createAuthServer({ basePath: '/okapi' })
    const html = '<!doctype html><title>tab</title><script src="/rotor.js"></script>'
    const js = 'var Rotor = { ok: "é" };'
    const face = await server.listen({
      static: {
        '/tab.html': { type: 'text/html', body: html },
        '/rotor.js': { type: 'text/javascript', body: js },
        '/blob.bin': { type: 'application/octet-stream', body: new Uint8Array([1, 2, 3]) },
      },
    })
    const page = await fetch(`${face.origin}/tab.html?rotation=timer&x=1`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('cache-control')).toBe('no-store')
    expect(await page.text()).toBe(html)
    const script = await fetch(`${face.origin}/rotor.js`)
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(await script.text()).toBe(js)
    expect(Number(script.headers.get('content-length'))).toBe(Buffer.byteLength(js))
    expect(new Uint8Array(await (await fetch(`${face.origin}/blob.bin`)).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]))
    const head = await fetch(`${face.origin}/tab.html`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    // the model never saw them: no log, no counters; faults and auth do not apply
    server.fault('api', { status: 503, times: Infinity })
    expect((await fetch(`${face.origin}/tab.html`)).status).toBe(200)
    expect(server.log).toHaveLength(0)
    // the auth routes keep working on the same origin, and unknown paths still reach the model
    const login = await fetch(`${face.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT, body: CREDS })
    expect(login.status).toBe(201)
    expect((await fetch(`${face.origin}/nope.html`)).status).toBe(404)
    // other methods on a static path go to the model (404 there)
    expect((await fetch(`${face.origin}/tab.html`, { method: 'POST', body: 'x' })).status).toBe(404)
    expect(server.log.map(e => e.path)).toEqual(['/okapi/authn/login-with-expiry', '/nope.html', '/tab.html'])
  })

  it('rejects malformed static options at listen()', async () => {
    server = createAuthServer()
    await expect(server.listen({ static: { 'tab.html': { type: 'text/html', body: '' } } })).rejects.toThrow(TypeError)
    await expect(server.listen({ static: { '/x': { type: 'text/html', body: 42 as unknown as string } } })).rejects.toThrow(TypeError)
    // a failed listen leaves the server free to listen again
    const face = await server.listen({ static: { '/ok.txt': { type: 'text/plain', body: 'ok' } } })
    expect(await (await fetch(`${face.origin}/ok.txt`)).text()).toBe('ok')
  })
})
