/**
 * Issue 25 item 13: `fetch` stays `fetch`. Every shape of arguments goes through plain fetch
 * and through the session's, in and out of scope, against a real echo server on 127.0.0.1,
 * and must come to the same outcome (status and the method, headers and body the server
 * received, or the same error, thrown the same way) apart from the documented credential:
 * `Authorization` on an in-scope bearer request.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createSession, type Session } from '../../src/index.js'

let server: Server
let url: string
let bearer: Session
let cookie: Session
const AT = 'at-transparency-1'

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk as Buffer))
    request.on('end', () => {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ method: request.method, path: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('latin1') }))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const common = { scope: `${url}/api`, logout: false as const, crossTab: false, refresh: { url: `${url}/refresh`, style: 'json' as const } }
  bearer = createSession({ ...common, transport: 'bearer' })
  await bearer.start({ accessToken: AT, refreshToken: 'rt', accessTokenExpiration: Date.now() + 600_000 })
  cookie = createSession({ ...common, transport: 'cookie', persist: false })
  await cookie.start({ accessTokenExpiration: Date.now() + 600_000 })
})
afterAll(async () => {
  bearer.dispose()
  cookie.dispose()
  await new Promise(resolve => server.close(resolve))
})

type Args = [RequestInfo | URL, (RequestInit & { duplex?: 'half' })?]
type Outcome =
  { kind: 'response'; status: number; method: string; headers: Record<string, unknown>; body: string } | { kind: 'sync-throw' | 'rejected'; name: string; type: string }

/** Headers that differ between any two requests, whoever sends them. */
const VOLATILE = ['host', 'connection', 'content-length', 'transfer-encoding', 'authorization']

async function outcome(call: () => Promise<Response>): Promise<Outcome> {
  let promise: Promise<Response>
  try {
    promise = call()
  } catch (error) {
    return { kind: 'sync-throw', name: (error as Error).name, type: (error as object).constructor.name }
  }
  try {
    const response = await promise
    const echo = (await response.json()) as { method: string; headers: Record<string, unknown>; body: string }
    const headers = { ...echo.headers }
    for (const name of VOLATILE) delete headers[name]
    // A FormData's multipart boundary is random per request.
    const boundary = /boundary=(\S+)/.exec(String(headers['content-type'] ?? ''))?.[1]
    const body = boundary ? echo.body.split(boundary).join('BOUNDARY') : echo.body
    if (boundary) headers['content-type'] = String(headers['content-type']).replace(boundary, 'BOUNDARY')
    return { kind: 'response', status: response.status, method: echo.method, headers, body }
  } catch (error) {
    return { kind: 'rejected', name: (error as Error).name, type: (error as object).constructor.name }
  }
}

/** The Authorization the server saw, read separately from the comparison. */
async function authorizationSeen(call: () => Promise<Response>): Promise<unknown> {
  try {
    const response = await call()
    return ((await response.json()) as { headers: Record<string, unknown> }).headers['authorization']
  } catch {
    return 'failed'
  }
}

const inherited = () => Object.assign(Object.create({ 'x-inherited': 'from-prototype' }) as Record<string, string>, { 'x-own': 'own' })
const aborted = () => AbortSignal.abort()
const stream = () => new ReadableStream<Uint8Array>({ start: c => (c.enqueue(new TextEncoder().encode('streamed')), c.close()) })
const form = () => {
  const f = new FormData()
  f.set('field', 'value')
  return f
}

/** Each case builds its arguments afresh for every run (bodies and Requests are consumed). */
const CASES: Array<[string, (target: string) => Args]> = [
  ['a string', t => [t]],
  ['a URL', t => [new URL(t)]],
  ['a Request', t => [new Request(t, { method: 'POST', body: 'req', headers: { 'x-req': '1' } })]],
  ['a Request and init headers (init wins)', t => [new Request(t, { headers: { 'x-req': '1' } }), { headers: { 'x-init': '2' } }]],
  ['headers: object', t => [t, { headers: { 'x-a': '1', 'X-B': 'two' } }]],
  ['headers: object with a number value', t => [t, { headers: { 'x-n': 1 as unknown as string } }]],
  [
    'headers: array',
    t => [
      t,
      {
        headers: [
          ['x-a', '1'],
          ['x-a', '2'],
        ],
      },
    ],
  ],
  ['headers: Headers', t => [t, { headers: new Headers({ 'x-h': 'h' }) }]],
  ['headers: inherited properties', t => [t, { headers: inherited() }]],
  ['headers: a null-prototype object', t => [t, { headers: Object.assign(Object.create(null) as Record<string, string>, { 'x-null': 'n' }) }]],
  ['headers: an invalid value', t => [t, { headers: { 'x-bad': 'a\nb' } }]],
  ['headers: an invalid name', t => [t, { headers: { 'bad name': 'x' } }]],
  ['headers: an invalid value in an array', t => [t, { headers: [['x-bad', 'a\nb']] }]],
  ['headers: an invalid name in a Headers-like array', t => [t, { headers: [['bad name', 'x']] }]],
  ['headers: a number as a name ([[1, "x"]])', t => [t, { headers: [[1, 'x']] as unknown as HeadersInit }]],
  ['headers: a malformed pair', t => [t, { headers: [['x-only']] as unknown as HeadersInit }]],
  ['body: string', t => [t, { method: 'POST', body: 'text' }]],
  ['body: URLSearchParams', t => [t, { method: 'POST', body: new URLSearchParams({ a: '1', b: 'x y' }) }]],
  ['body: FormData', t => [t, { method: 'POST', body: form() }]],
  ['body: Blob', t => [t, { method: 'POST', body: new Blob(['blob'], { type: 'text/x-blob' }) }]],
  ['body: ArrayBuffer', t => [t, { method: 'PUT', body: new TextEncoder().encode('buffer').buffer }]],
  ['body: Uint8Array', t => [t, { method: 'PUT', body: new TextEncoder().encode('bytes') }]],
  ['body: ReadableStream with duplex', t => [t, { method: 'POST', body: stream(), duplex: 'half' }]],
  ['body: ReadableStream without duplex', t => [t, { method: 'POST', body: stream() }]],
  ['body: null', t => [t, { method: 'POST', body: null }]],
  ['body on a GET', t => [t, { method: 'GET', body: 'no' }]],
  ['signal: live', t => [t, { signal: new AbortController().signal }]],
  ['signal: already aborted', t => [t, { signal: aborted() }]],
  ['a Request with an aborted signal', t => [new Request(t, { signal: aborted() })]],
  ['method: lower-case patch', t => [t, { method: 'patch', body: 'p' }]],
  ['an invalid URL', () => ['http://[not a url']],
]

describe.each([
  ['in scope', '/api/echo'],
  ['out of scope', '/out/echo'],
])('%s', (where, path) => {
  describe.each([
    ['bearer', () => bearer],
    ['cookie', () => cookie],
  ])('%s transport', (transport, session) => {
    test.each(CASES)('%s: the same outcome as plain fetch', async (_name, args) => {
      const target = `${url}${path}`
      const plain = await outcome(() => fetch(...args(target)))
      const rotor = await outcome(() => session().fetch(...args(target)))
      expect(rotor).toEqual(plain)
      if (plain.kind !== 'response') return
      // The one documented difference: an in-scope bearer request carries the session's AT.
      const sent = await authorizationSeen(() => session().fetch(...args(target)))
      expect(sent).toBe(where === 'in scope' && transport === 'bearer' ? `Bearer ${AT}` : undefined)
    })
  })
})
