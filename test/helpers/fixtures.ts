/** vitest fixtures for the scenarios most files share: a hand-moved clock and the reference server on it, closed after each test. */
import { expect, test as base, vi } from 'vitest'
import { createSession, type Session, type SessionOptions } from '../../src/index.js'
import { manualClock } from './index.js'
import { browserTabs, startEnv, type Env } from './session-env.js'

export type ServerOptions = NonNullable<Parameters<typeof startEnv>[0]>

export type ServerFixtures = {
  /** The clock the server and (when a test passes `now: clock.now`) the sessions read. */
  clock: ReturnType<typeof manualClock>
  /** The reference server on 127.0.0.1, on `clock`; its sessions are disposed and it closes after the test. */
  env: Env
}

/**
 * `test` with `clock` and `env` in its context: `serverTest({ accessTokenTtl: AT })('…', async
 * ({ env, clock }) => …)`. A test that names neither starts no server (fixtures are lazy).
 * `test.for` (not `test.each`) hands the context to a table's rows. With `time: 'real'` the
 * server keeps its own real time (`clock` then moves nothing the server reads).
 */
export function serverTest(serverOptions: ServerOptions = {}, time: 'manual' | 'real' = 'manual') {
  return base.extend<ServerFixtures>({
    // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern: none
    clock: async ({}, use) => use(manualClock()),
    env: async ({ clock }, use) => {
      const env = await startEnv(time === 'manual' ? { now: clock.now, ...serverOptions } : serverOptions)
      try {
        await use(env)
      } finally {
        await env.close()
      }
    },
  })
}

/**
 * `count` tabs of one browser sharing a channel (see browserTabs: cookie tabs share one jar,
 * bearer tabs receive the pair by message), logged in from the first; resolves once all are active.
 */
export async function loggedInTabs(env: Env, count: number, defaults: Partial<SessionOptions> = {}): Promise<Session[]> {
  const browser = browserTabs(env, defaults)
  for (let i = 0; i < count; i++) browser.open()
  await browser.start(browser.tabs[0]!)
  await vi.waitFor(() => expect(browser.tabs.every(t => t.state.status === 'active')).toBe(true))
  return browser.tabs
}

/**
 * A bearer session, not yet started, for a pair the test obtained itself (`env.server.issue()`):
 * no crossTab, request mode, refreshing on the server's /bearer route, no logout call; scope
 * `${env.url}/api` unless `options` says otherwise. Disposed with `env`.
 */
export function pairSession(env: Env, options: Partial<SessionOptions> = {}): Session {
  const session = createSession({
    scope: `${env.url}/api`,
    transport: 'bearer',
    rotation: 'request',
    crossTab: false,
    refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
    logout: false,
    ...options,
  })
  env.sessions.push(session)
  return session
}
