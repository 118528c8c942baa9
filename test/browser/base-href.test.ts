/**
 * Issue 13, item 1, in real Chromium: a page whose `<base href>` points at another origin (an
 * HTML injection needs no script for that). The browser resolves relative URLs against
 * `document.baseURI`; Rotor used `location.href`, judged `/api/x` in scope, and sent the bearer
 * AT to the other origin. A second server plays that origin and records what it receives,
 * answering CORS permissively so that a leaked header would really arrive.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthServer, type ListeningAuthServer } from '../../src/testing/index.js'
import { buildBundles } from './harness'
import { launchChromium, skipBrowserTests } from './launch'

type Seen = { method: string; path: string; headers: IncomingHttpHeaders }

describe.skipIf(skipBrowserTests())('<base href> to another origin (Chromium, bearer)', () => {
  const seen: Seen[] = []
  let other: Server
  let otherURL = ''
  let face: ListeningAuthServer
  let browser: Browser

  beforeAll(async () => {
    other = createServer((req, res) => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers })
      res.setHeader('Access-Control-Allow-Origin', req.headers.origin ?? '*')
      res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type')
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST')
      res.end('other origin')
    })
    await new Promise<void>(resolve => other.listen(0, '127.0.0.1', resolve))
    otherURL = `http://127.0.0.1:${(other.address() as AddressInfo).port}`
    const { rotor, rotorXhr } = await buildBundles()
    // The scripts come before the injected <base>, so they load from the page's own origin.
    const page =
      '<!doctype html><meta charset="utf-8"><title>base</title><script src="/rotor.js"></script>' + `<script src="/rotor-xhr.js"></script><base href="${otherURL}/">`
    face = await createAuthServer({ accessTokenTtl: 60_000 }).listen({
      static: {
        '/base.html': { type: 'text/html', body: page },
        '/rotor.js': { type: 'text/javascript', body: rotor },
        '/rotor-xhr.js': { type: 'text/javascript', body: rotorXhr },
      },
    })
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await face?.close()
    await new Promise(resolve => other?.close(resolve))
  })

  it('relative fetch and XHR resolve as the browser does: to the other origin, with no Authorization', async () => {
    const tab = await browser.newPage()
    await tab.goto(`${face.origin}/base.html`)
    const result = await tab.evaluate(async origin => {
      const R = (window as unknown as { Rotor: typeof import('../../src/index.js') }).Rotor
      const session = R.createSession({
        scope: `${origin}/api`,
        transport: 'bearer',
        refresh: { url: `${origin}/bearer/refresh`, style: 'json' },
        logout: false,
      })
      const login = await fetch(`${origin}/bearer/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
      })
      await session.start(login)
      session.install(window, { xhr: (window as unknown as { RotorXhr: typeof import('../../src/xhr.js') }).RotorXhr.xhr })
      const fetched = await fetch('/api/x').then(r => r.text())
      const xhr = await new Promise<string>(resolve => {
        const request = new XMLHttpRequest()
        request.open('GET', 'api/y')
        request.onloadend = () => resolve(request.responseText)
        request.send()
      })
      // The same call with an absolute URL in scope is authorised (the test can fail).
      const own = await fetch(`${origin}/api/z`).then(r => r.status)
      return { baseURI: document.baseURI, fetched, xhr, own }
    }, face.origin)
    expect(result.baseURI).toBe(`${otherURL}/`)
    expect(result).toMatchObject({ fetched: 'other origin', xhr: 'other origin', own: 200 })
    expect(seen.map(s => `${s.method} ${s.path}`)).toEqual(['GET /api/x', 'GET /api/y'])
    for (const s of seen) {
      expect(s.headers.authorization).toBeUndefined()
      expect(s.headers['access-control-request-headers'] ?? '').not.toContain('authorization')
    }
    await tab.close()
  }, 30_000)
})
