/** Closing the tab whose reauthenticate() hook is open hands the job to another tab; the others wait for it and then go out. */
import { randomUUID } from 'node:crypto'
import { describe, expect, vi } from 'vitest'
import { createSession, SessionExpiredError, type Session } from '../../src/index.js'
import { bearerLogin, bearerOptions } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('dispose() while reauthenticate() is pending', () => {
  // Before: the other tabs kept rotating: true, got RotationError every queueTimeout, and
  // never re-authenticated or logged out.
  test('the hook is aborted, another tab takes the job over, the others wait (past queueTimeout) and then go out', async ({ env }) => {
    const name = randomUUID()
    let closedForm = false
    const takeovers: number[] = []
    const tabs: Session[] = []
    for (let i = 0; i < 3; i++) {
      const tab = createSession({
        ...bearerOptions(env.url),
        crossTab: { name },
        rotation: 'request',
        queueTimeout: 300,
        reauthenticate:
          i === 0
            ? ({ signal }) =>
                new Promise((_resolve, reject) =>
                  signal.addEventListener('abort', () => {
                    closedForm = true
                    reject(signal.reason)
                  }),
                )
            : async () => {
                takeovers.push(i)
                return bearerLogin(env.url)
              },
      })
      env.sessions.push(tab)
      tabs.push(tab)
    }
    await tabs[0]!.start(await bearerLogin(env.url))
    await vi.waitFor(() => expect(tabs.every(t => t.state.status === 'active')).toBe(true))
    env.server.restart() // every token forgotten: the next refresh is refused
    const first = tabs[0]!.fetch(`${env.url}/api/0`).catch((e: unknown) => e)
    await vi.waitFor(() => expect(env.server.stats.refreshCalls).toBe(1))
    let settled = 0
    const others = tabs.slice(1).map((t, i) => t.fetch(`${env.url}/api/${i + 1}`).finally(() => settled++))
    await new Promise(resolve => setTimeout(resolve, 900)) // three queueTimeouts: still waiting, not RotationError
    expect(settled).toBe(0)
    tabs[0]!.dispose()
    expect(closedForm).toBe(true)
    expect(await first).toBeInstanceOf(SessionExpiredError)
    expect((await Promise.all(others)).map(r => r.status)).toEqual([200, 200])
    expect(takeovers).toHaveLength(1)
    // Nobody presented the dead RT again: the one refused refresh is all the server saw.
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0, logins: 2 })
  })
})
