/** A tab disposed while its refresh is out, refused after the user signed in anew in another tab: the verdict is the old login's, and the new login stands. */
import { randomUUID } from 'node:crypto'
import { describe, expect, vi } from 'vitest'
import { createSession, type Session } from '../../src/index.js'
import { createMemoryCoordinator } from '../../src/testing/index.js'
import type { Coordinator, Snapshot } from '../../src/types.js'
import { bearerLogin, bearerOptions, record } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

/** A browser's shared store for bearer tabs: states without their tokens (those travel by message). */
function tokenless(member: ReturnType<ReturnType<typeof createMemoryCoordinator>['join']>): Coordinator {
  const strip = (snapshot: Snapshot | undefined): Snapshot | undefined => {
    if (!snapshot) return undefined
    const { accessToken: _a, refreshToken: _r, ...rest } = snapshot
    return rest
  }
  return { ...member, read: () => strip(member.read()) }
}

describe('a disposed tab refused after a new login', () => {
  test('its refresh refused once the user signed in anew elsewhere: that login is not ended (sim `--no-locks --extended` seed 100070)', async ({ env }) => {
    const shared = createMemoryCoordinator({ sharesTokens: 'message' })
    const name = randomUUID()
    // `closing`'s refresh waits here until the test lets it go.
    let release: (() => void) | undefined
    const held: typeof fetch = async (input, init) => {
      if (String(input instanceof Request ? input.url : input).endsWith('/bearer/refresh')) await new Promise<void>(resolve => (release = resolve))
      return fetch(input, init)
    }
    const closing: Session = createSession({ ...bearerOptions(env.url), crossTab: { name }, coordinator: tokenless(shared.join()), fetch: held })
    const staying: Session = createSession({ ...bearerOptions(env.url), crossTab: { name }, coordinator: tokenless(shared.join()) })
    env.sessions.push(closing, staying)
    await closing.start(await bearerLogin(env.url))
    await vi.waitFor(() => expect(staying.state.status).toBe('active'))
    const rotation = closing.rotate().catch((error: unknown) => error)
    await vi.waitFor(() => expect(release).toBeDefined())
    // The app closes that tab; its refresh goes on (so no RT it spends is lost) and hears no tab now.
    closing.dispose()
    // The server forgets the first login (its RT will be refused), and the user signs in anew in the other tab.
    env.server.restart()
    await staying.start(await bearerLogin(env.url))
    const log = record(staying)
    const { generation } = staying.state
    release!()
    await rotation
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 0 })
    // What the refused tab posted has arrived (the bus delivers on a microtask). Before: it ended the session
    // one generation above the new login, and every tab dropped that login while it lived.
    await new Promise(resolve => setTimeout(resolve, 0))
    expect(shared.messages.filter(m => m.type === 'state' && m.snapshot.status === 'signed-out')).toEqual([])
    expect(log.of('logout')).toEqual([])
    expect(staying.state).toMatchObject({ status: 'active', generation })
    expect((await staying.fetch(`${env.url}/api/after`)).status).toBe(200)
  })
})
