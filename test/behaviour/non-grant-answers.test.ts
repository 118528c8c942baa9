/** A refresh answer that is not a grant: cut off after the server rotated (the spent RT is never sent again) or a proxy's page (retried). */
import { describe, expect, vi } from 'vitest'
import { record } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('refresh answers that are not grants', () => {
  // Before: the body of a 2xx that failed to arrive was "transient": the retry presented the
  // RT the server had just consumed, and the server revoked the family.
  test('bearer: the refresh answer is cut off after its headers: the spent RT is never presented again', async ({ env }) => {
    const session = await env.bearer()
    const log = record(session)
    env.server.fault('refresh', { cut: true, afterProcessing: true })
    await session.rotate().catch(() => undefined)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0 })
    expect(log.of('rotate-error')).toMatchObject([{ willRetry: false, error: { name: 'MalformedGrantError' } }])
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_MALFORMED_GRANT' }) }])
  })

  // Before: a proxy's HTML maintenance page (200) was read as a malformed grant: with bearer
  // tokens, a logout.
  test.for(['cookie', 'bearer'] as const)('%s: a 200 HTML page from a proxy is transient: retried, then the real answer', async (transport, { env }) => {
    const session = await env.session(transport)
    const log = record(session)
    env.server.fault('refresh', { status: 200, body: '<html><body>Down for maintenance</body></html>', headers: { 'Content-Type': 'text/html' } })
    await expect(session.rotate()).rejects.toThrow(/text\/html, not a grant/)
    // The session's own retry (after its backoff) gets the real answer.
    await vi.waitFor(() => expect(session.state.generation).toBe(2), { timeout: 5_000 })
    expect(log.of('rotate-error')).toMatchObject([{ willRetry: true, attempt: 1 }])
    expect(log.of('logout')).toEqual([])
    expect(env.server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 1, reusedRefused: 0 })
    expect(session.state).toMatchObject({ status: 'active', generation: 2 })
  })
})
