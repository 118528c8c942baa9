/** When the server refuses the RT, every tab of the browser ends its session and none presents that RT again. */
import { describe, expect } from 'vitest'
import { SessionExpiredError } from '../../src/index.js'
import { loggedInTabs, serverTest } from '../helpers/fixtures.js'

const AT = 60_000
const test = serverTest({ accessTokenTtl: AT, refreshTokenTtl: 3_600_000 })

describe('a refused RT is never presented by the next tab', () => {
  // Before: the session's end was written to the shared state after the rotation lock was
  // released; the next tab waiting on the lock read "active" and presented the same RT.
  test.for(['cookie', 'bearer'] as const)(
    '%s: three tabs need a rotation, the server refuses the RT: one refresh call, every tab logs out',
    async (transport, { env, clock }) => {
      const tabs = await loggedInTabs(env, 3, { transport, rotation: 'request', now: clock.now })
      env.server.fault('refresh', { status: 401, times: 5 })
      clock.advance(AT + 1)
      const results = await Promise.allSettled(tabs.map(t => t.rotate()))
      for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SessionExpiredError)
      expect(env.server.stats.refreshCalls).toBe(1)
      expect(tabs.map(t => t.state.status)).toEqual(['signed-out', 'signed-out', 'signed-out'])
    },
  )
})
