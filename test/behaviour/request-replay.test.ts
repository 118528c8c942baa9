/** A request answered 401 is replayed once after the rotation when its body can be sent again, and never when it was a stream. */
import { Readable } from 'node:stream'
import { describe, expect } from 'vitest'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('stream bodies are never replayed', () => {
  // Before: a Node Readable or async-iterable body answered 401 was replayed with an empty
  // body (the server answered 200 to nothing) or failed with "disturbed or locked".
  test.for<[string, () => BodyInit]>([
    ['a Node Readable', () => Readable.from([Buffer.from('row 1\n'), Buffer.from('row 2\n')]) as unknown as BodyInit],
    [
      'an async iterable',
      () =>
        (async function* () {
          yield new TextEncoder().encode('row 1\n')
        })() as unknown as BodyInit,
    ],
    ['a web ReadableStream', () => new Blob(['row 1\n']).stream() as BodyInit],
  ])('%s body answered 401: the caller gets the 401, the server saw one request', async ([_name, body], { env }) => {
    const session = await env.bearer()
    env.server.revokeAccessTokens()
    const response = await session.fetch(`${env.url}/api/upload`, { method: 'POST', body: body(), duplex: 'half' } as RequestInit)
    expect(response.status).toBe(401)
    expect(env.server.log.filter(e => e.path === '/api/upload')).toHaveLength(1)
  })

  test('a replayable body (string) answered 401 is replayed once, body included', async ({ env }) => {
    const session = await env.bearer()
    env.server.revokeAccessTokens()
    const response = await session.fetch(`${env.url}/api/upload`, { method: 'POST', body: 'row 1' })
    expect(response.status).toBe(200)
    expect(env.server.log.filter(e => e.path === '/api/upload').map(e => e.status)).toEqual([401, 200])
  })
})
