/** start() refuses a grant whose tokens are both already expired, instead of logging out a moment later. */
import { describe, expect } from 'vitest'
import { createSession } from '../../src/index.js'
import { bearerOptions, record } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('dead grants', () => {
  // Before: start() accepted it, and the session logged out "expired" milliseconds later.
  test.for([
    ['negative expires_in', { access_token: 'a.b.c', refresh_token: 'r', expires_in: -10, refresh_expires_in: -5 }],
    ['past dates', { accessTokenExpiration: '2001-01-01T00:00:00Z', refreshTokenExpiration: '2001-01-02T00:00:00Z' }],
  ])('%s: start() rejects naming the problem, the session stays signed out', async ([_name, grant], { env }) => {
    const session = createSession({ ...bearerOptions(env.url), transport: 'cookie' })
    env.sessions.push(session)
    const log = record(session)
    await expect(session.start(grant as never)).rejects.toThrow(/both already expired/)
    expect(session.state.status).toBe('signed-out')
    expect(log.events).toEqual([])
  })
})
