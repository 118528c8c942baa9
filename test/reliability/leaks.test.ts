/**
 * Tokens go only where they belong (issue 13): a second server on another port plays the
 * other origin and records everything it receives; no token, RT or cookie may ever reach it.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { record, startEnv, type Env } from '../helpers/index.js'

type Seen = { method: string; path: string; headers: IncomingHttpHeaders; body: string }

/** The other origin: answers 200 to everything and keeps what it got. */
async function otherOrigin(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', chunk => (body += chunk))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body })
      res.end('ok')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise(resolve => server.close(() => resolve())) }
}

let env: Env
let other: Awaited<ReturnType<typeof otherOrigin>>
beforeEach(async () => {
  env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
  other = await otherOrigin()
})
afterEach(async () => {
  await env.close()
  await other.close()
})

describe('3. refresh and logout never follow redirects', () => {
  // Before: a 307 from the refresh endpoint re-posted the RT (body or cookie) to its Location.
  test.each(['cookie', 'bearer'] as const)('%s: refresh answered 307 to another origin: nothing reaches it, no logout, the next refresh works', async transport => {
    const session = await env.session(transport)
    const log = record(session)
    env.server.fault('refresh', { status: 307, headers: { Location: `${other.url}/steal` } })
    await expect(session.rotate()).rejects.toThrow(/redirected \(HTTP 307\)/)
    expect(other.seen).toEqual([])
    expect(log.of('rotate-error')).toMatchObject([{ willRetry: true }])
    expect(log.of('logout')).toEqual([])
    expect(session.state.status).toBe('active')
  })

  test.each(['cookie', 'bearer'] as const)('%s: logout answered 307 to another origin: nothing reaches it, the session ends locally', async transport => {
    const session = await env.session(transport)
    env.server.fault('logout', { status: 307, headers: { Location: `${other.url}/steal` } })
    await session.logout()
    expect(other.seen).toEqual([])
    expect(session.state.status).toBe('signed-out')
  })
})

describe('5. URL-like inputs whose string differs', () => {
  // Before: scope was judged on the URL object's own fields, while fetch sent to String(input):
  // the request went to the other origin with the bearer AT.
  test('a URL subclass whose toString names another origin: sent there untouched, no Authorization', async () => {
    const session = await env.bearer()
    class Lying extends URL {
      override toString() {
        return `${other.url}/steal`
      }
    }
    const response = await session.fetch(new Lying(`${env.url}/api/x`))
    expect(response.status).toBe(200)
    expect(other.seen).toHaveLength(1)
    expect(other.seen[0]!.headers.authorization).toBeUndefined()
    expect(env.server.stats.api200 + env.server.stats.api401).toBe(0)
  })

  test('a { toString } object: the same', async () => {
    const session = await env.bearer()
    const input = { href: `${env.url}/api/x`, toString: () => `${other.url}/steal` } as unknown as URL
    await session.fetch(input)
    expect(other.seen.map(s => s.headers.authorization)).toEqual([undefined])
  })

  test('a plain URL in scope is still authorised', async () => {
    const session = await env.bearer()
    expect((await session.fetch(new URL(`${env.url}/api/x`))).status).toBe(200)
    expect(env.server.stats.api200).toBe(1)
  })
})
