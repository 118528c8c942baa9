/** queueTimeout is a wait, counted on the monotonic clock: a wall clock set back while requests wait for a rotation does not hold them longer. */
import { afterEach, expect, onTestFinished, test, vi } from 'vitest'
import { RotationError } from '../../src/index.js'
import { startEnv, waitFor } from '../helpers/index.js'
import { settle } from '../reliability/helpers.js'

const realNow = () => performance.timeOrigin + performance.now()

afterEach(() => {
  vi.restoreAllMocks()
})

// Before: the gate counted queueTimeout on the wall clock, so a clock set back an hour while a
// request waited on a hanging refresh held it an hour more (sim seed 102399, with a crashed tab's lock).
test('a request waiting on a hanging refresh gets RotationError by queueTimeout though the wall clock is set back an hour', async () => {
  const env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000, now: realNow })
  onTestFinished(() => env.close())
  let offset = 0
  vi.spyOn(Date, 'now').mockImplementation(() => Math.round(realNow() + offset))
  const { session } = await env.browser({ rotation: 'request', refreshTimeout: 300, queueTimeout: 800, refreshRetries: 0 })
  env.server.fault('refresh', { hang: true, times: Infinity })
  // The AT is refused: the request waits for a newer one, and the refresh hangs.
  env.server.revokeAccessTokens()
  const waiting = settle(session.fetch(`${env.url}/api/waits`))
  await waitFor(() => env.server.stats.refreshCalls >= 1)
  offset = -3_600_000
  // A generous bound, not a timing assertion: before the fix the request was still waiting an hour on.
  const outcome = await Promise.race([waiting, new Promise<'still waiting'>(resolve => setTimeout(() => resolve('still waiting'), 15_000))])
  expect(outcome).not.toBe('still waiting')
  expect((outcome as { ok: boolean }).ok).toBe(false)
  expect((outcome as { error: unknown }).error).toBeInstanceOf(RotationError)
  // What the server saw: refresh attempts, none granted, and the one refused API call.
  expect(env.server.stats).toMatchObject({ refreshGranted: 0, reusedRefused: 0, api200: 0, api401: 1 })
  env.server.clearFaults()
}, 30_000)
