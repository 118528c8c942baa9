/** A session disposed while its rotation still waits for the lock (behind another tab's open login form) lets go at once. */
import { randomUUID } from 'node:crypto'
import { describe, expect, vi } from 'vitest'
import { createSession, SessionExpiredError, type Session } from '../../src/index.js'
import { createMemoryCoordinator } from '../../src/testing/memory-coordinator.js'
import { bearerLogin, bearerOptions } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('dispose() while the rotation waits for the lock', () => {
  // Sim seed 540 (extended model): an SPA unmounted a session whose rotation was queued behind
  // another tab's open reauthenticate() hook. teardown waited for that rotation, which waited for
  // the lock for as long as the form stayed open: the session never closed its coordinator (its
  // channel, its Web Locks presence), in a page that lived on. Only a rotation holding the lock
  // has a refresh to finish for the others.
  test('its coordinator closes at once, its callers reject, and when the lock comes it refreshes nothing', async ({ env }) => {
    const shared = createMemoryCoordinator()
    const name = randomUUID()
    let formOpen = false
    const asked: string[] = []
    const tabs: Session[] = []
    for (let i = 0; i < 2; i++) {
      const tab = createSession({
        ...bearerOptions(env.url),
        crossTab: { name },
        coordinator: shared.join(),
        rotation: 'request',
        refreshTimeout: 200,
        debug: entry => void (entry.kind === 'lock-asked' && asked.push(entry.tab)),
        // Tab 0's login form stays open (a person typing) and holds the lock meanwhile.
        reauthenticate: i === 0 ? () => ((formOpen = true), new Promise(() => undefined)) : async () => bearerLogin(env.url),
      })
      env.sessions.push(tab)
      tabs.push(tab)
    }
    await tabs[0]!.start(await bearerLogin(env.url))
    await vi.waitFor(() => expect(tabs.every(t => t.state.status === 'active')).toBe(true))
    env.server.restart() // every token forgotten: the next refresh is refused
    void tabs[0]!.fetch(`${env.url}/api/0`).catch(() => undefined)
    await vi.waitFor(() => expect(formOpen).toBe(true))
    const waiting = tabs[1]!.fetch(`${env.url}/api/1`).catch((e: unknown) => e)
    // Tab 1's request waits for the login tab 0 owes, and its rotation asked for the lock, which tab 0 holds.
    await vi.waitFor(() => expect(asked.filter(tab => tab !== asked[0]).length).toBeGreaterThan(0))
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(shared.members).toBe(2)
    tabs[1]!.dispose()
    expect(await waiting).toBeInstanceOf(SessionExpiredError)
    // Before: still 2 members after 3 × refreshTimeout, and for as long as the form stayed open.
    await vi.waitFor(() => expect(shared.members).toBe(1), { timeout: 3 * 200 + 1_000 })
    const refreshes = env.server.stats.refreshCalls
    tabs[0]!.dispose() // the form's tab goes: the lock passes to tab 1's stale request
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(env.server.stats.refreshCalls).toBe(refreshes)
    expect(shared.holder).toBeUndefined()
  })
})
