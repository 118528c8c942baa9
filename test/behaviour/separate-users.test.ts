/** Sessions of one scope in one process keep their own tokens unless they are told to share. */
import { describe, expect } from 'vitest'
import { createSession } from '../../src/index.js'
import { bearerLogin, bearerOptions } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('two users in one Node process', () => {
  // Before: sessions of the same scope shared one state by default: Alice's next request went
  // out with Bob's token.
  test('two sessions of one scope with default options keep their own tokens', async ({ env }) => {
    const alice = createSession(bearerOptions(env.url))
    const bob = createSession(bearerOptions(env.url))
    env.sessions.push(alice, bob)
    await alice.start(await bearerLogin(env.url))
    await bob.start(await bearerLogin(env.url))
    const [a, b] = await Promise.all([alice.accessToken(), bob.accessToken()])
    expect(a).not.toBe(b)
    expect([alice.state.generation, bob.state.generation]).toEqual([1, 1])
    // A third session of that scope joins neither of them.
    const third = createSession(bearerOptions(env.url))
    env.sessions.push(third)
    expect(third.state.status).toBe('signed-out')
    expect((await third.fetch(`${env.url}/api/x`)).status).toBe(401)
  })
})
