/** A fetch that never answers and ignores its abort signal: every rotate() still settles, at logout() or at the late-answer bound. */
import { afterEach, describe, expect, test, vi } from 'vitest'
import { startEnv, type Env } from '../helpers/index.js'
import { firstViolations, settle } from '../reliability/helpers.js'
import type { Schedule } from '../reliability/chaos-harness.js'

const AT = 60_000

describe('chaos #5 (seed -131859687, path 183:4:0:0:6:9:10:10:12:12:9:9): a fetch that ignores its signal', () => {
  // The schedule: 2 cookie tabs, timer mode; the server slows (150 ms, past refreshTimeout)
  // then hangs the next refresh; rotate() then logout() in tab 0. The harness's fetch looked
  // at the abort signal only once the slow server answered: the logout's abort had fired by
  // then, so the hung call never ended, the rotation kept the lock, and rotate() never
  // settled. The refresh call now ends when its signal does, whatever the fetch beneath does.
  const schedule: Schedule = {
    tabs: 2,
    transport: 'cookie',
    rotation: 'timer',
    reauth: false,
    commands: [
      { t: 'fault', kind: 'slow', times: 1 },
      { t: 'fault', kind: 'hang', times: 1 },
      { t: 'rotate', tab: 0 },
      { t: 'logout', tab: 0 },
      { t: 'wait', ms: 0 },
    ],
  }

  test('replayed: every rotate() settles', async () => {
    expect(await firstViolations(schedule, 5)).toEqual([])
  })

  let env: Env | undefined
  afterEach(async () => {
    await env?.close()
    env = undefined
  })

  /** A cookie session whose fetch never answers a refresh and never looks at the signal. */
  async function deafRefresh() {
    env = await startEnv({ accessTokenTtl: AT })
    let refreshes = 0
    const { session } = await env.browser({ refreshTimeout: 100 }, jar => (input, init) => {
      const url = input instanceof Request ? input.url : String(input)
      if (url.endsWith('/authn/refresh')) {
        refreshes++
        return new Promise<Response>(() => undefined)
      }
      return jar(input, init)
    })
    return { session, refreshes: () => refreshes }
  }
  const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<'unsettled'>(resolve => setTimeout(() => resolve('unsettled'), ms))])

  test('deterministic: rotate() then logout() with a deaf fetch: rotate() rejects SessionExpiredError at once', async () => {
    const { session, refreshes } = await deafRefresh()
    const rotation = settle(session.rotate())
    await vi.waitFor(() => expect(refreshes()).toBe(1))
    await session.logout()
    const result = await within(rotation, 1_000)
    expect(result).not.toBe('unsettled')
    expect((result as { ok: false; error: Error }).error.name).toBe('SessionExpiredError')
  })

  test('deterministic: a deaf fetch and no logout: rotate() gives up at the late-answer bound (3 × refreshTimeout)', async () => {
    const { session } = await deafRefresh()
    const result = await within(settle(session.rotate()), 2_000)
    expect(result).not.toBe('unsettled')
    expect((result as { ok: boolean }).ok).toBe(false)
  })
})
