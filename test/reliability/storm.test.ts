/**
 * The storm (issue 26, "Done when"): every trigger at once for 10 s against one session group
 * (3 sessions sharing a crossTab name in this process, the reference server over real HTTP,
 * both transports): timer mode with 5 s ATs, 401s from the API, ready() and authFailed(gen) in
 * a loop, forged rotate-requests, states, "rotating" and "reauthenticating" on the channel,
 * and the sessions' clock jumping forward. The server must see no more refreshes than the
 * budget allows (computed from its parameters), no reused RT, and no error message or event
 * payload produced in the storm may contain a token.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { type Session } from '../../src/index.js'
import { DEFAULT_BUDGET, MIN_LIFETIME_WINDOW_MS } from '../../src/core/budget.js'
import { MAX_GENERATION } from '../../src/coordinator/protocol.js'
import { browserTabs, flowingClock, memoryStorage, sleep, startEnv, type Env } from '../helpers/index.js'

const AT = 5_000
const SESSIONS = 3
const STORM_MS = 10_000
const JUMP_EVERY_MS = 1_000
const JUMP_MS = 3_000

/** Records every token the server handed out: JSON bodies (bearer) and Set-Cookie (cookie). */
function tokenTap(tokens: Set<string>) {
  return (base: typeof fetch): typeof fetch =>
    async (input, init) => {
      const response = await base(input, init)
      for (const cookie of response.headers.getSetCookie?.() ?? []) {
        const value = /^[^=]+=([^;]*)/.exec(cookie)?.[1]
        if (value && value.length > 16) tokens.add(value)
      }
      if ((response.headers.get('content-type') ?? '').includes('json')) {
        const body = (await response
          .clone()
          .json()
          .catch(() => undefined)) as Record<string, unknown> | undefined
        for (const key of ['accessToken', 'refreshToken', 'access_token', 'refresh_token']) {
          const value = body?.[key]
          if (typeof value === 'string') tokens.add(value)
        }
      }
      return response
    }
}

describe('storm: every trigger at once, 10 s, one session group', () => {
  let env: Env
  afterEach(async () => {
    await env.close()
  })

  test.each(['cookie', 'bearer'] as const)(
    '%s: refreshes within the budget, 0 reused RTs, no token in any error or event',
    async transport => {
      const clock = flowingClock(Date.now())
      env = await startEnv({ accessTokenTtl: AT, refreshTokenTtl: 3_600_000, now: clock.now })
      const tokens = new Set<string>()
      const tap = tokenTap(tokens)
      const storage = memoryStorage()
      const group = browserTabs(env, { transport, rotation: 'timer', now: clock.now, storage, queueTimeout: 1_000 })
      const options = transport === 'cookie' ? { fetch: tap(group.jar) } : { fetch: tap(fetch) }
      const tabs: Session[] = []
      for (let i = 0; i < SESSIONS; i++) tabs.push(group.open(options))
      const texts: string[] = []
      const keep = (value: unknown) => {
        const error = value as { message?: unknown; cause?: { message?: unknown }; stack?: unknown } | undefined
        texts.push(JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v)) ?? '')
        if (error && typeof error === 'object') texts.push(String(error.message), String(error.cause?.message), String(error.stack))
      }
      for (const tab of tabs) {
        for (const event of ['rotate', 'rotate-error', 'logout', 'change', 'clock-skew', 'storage-error'] as const) tab.on(event, payload => keep(payload))
      }
      const credentials = JSON.stringify({ username: 'diku_admin', password: 'admin' })
      const login =
        transport === 'cookie'
          ? await tap(group.jar)(`${env.url}/authn/login-with-expiry`, {
              method: 'POST',
              headers: { 'X-Okapi-Tenant': 'diku', 'content-type': 'application/json' },
              body: credentials,
            })
          : await tap(fetch)(`${env.url}/bearer/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: credentials })
      await tabs[0]!.start(login)
      const forger = new BroadcastChannel(group.channelName)
      const forge = (m: Record<string, unknown>) => forger.postMessage({ rotor: 1, from: 'forger', ...m })

      const started = performance.now()
      let jumped = 0
      let running = true
      const caught = (p: Promise<unknown>) => p.then(keep, keep)
      const loops = [
        (async () => {
          while (running) {
            for (const tab of tabs) {
              const generation = tab.state.generation
              void caught(tab.ready())
              void caught(tab.authFailed(generation))
              void caught(tab.fetch(`${env.url}/api/storm`))
            }
            await sleep(20)
          }
        })(),
        (async () => {
          while (running) {
            const generation = Math.max(...tabs.map(t => t.state.generation))
            forge({ type: 'rotate-request', generation })
            forge({ type: 'rotate-request', generation: MAX_GENERATION })
            forge({ type: 'rotating', generation: MAX_GENERATION })
            forge({
              type: 'state',
              snapshot: {
                generation: MAX_GENERATION,
                status: 'active',
                issuedAt: clock.now(),
                accessExpiresAt: clock.now() + 1e9,
                refreshExpiresAt: null,
                accessToken: 'forged',
                refreshToken: 'forged',
              },
            })
            forge({ type: 'reauthenticating', active: true })
            storage.setItem(group.channelName, JSON.stringify({ generation: MAX_GENERATION, status: 'active', issuedAt: 0, accessExpiresAt: 1, refreshExpiresAt: null }))
            env.server.fault('api', { status: 401, times: 3 })
            await sleep(100)
          }
        })(),
        (async () => {
          while (running) {
            await sleep(JUMP_EVERY_MS)
            clock.advance(JUMP_MS)
            jumped += JUMP_MS
          }
        })(),
      ]
      await sleep(STORM_MS)
      running = false
      await Promise.all(loops)
      const elapsed = performance.now() - started
      forger.close()

      // The budget, from its parameters: each session may start perLifetime refreshes per
      // window of one AT lifetime (at least MIN_LIFETIME_WINDOW_MS) on its clock, which moved
      // by the real time elapsed plus every jump.
      const window = Math.max(AT, MIN_LIFETIME_WINDOW_MS)
      const budget = SESSIONS * DEFAULT_BUDGET.perLifetime * (Math.ceil((elapsed + jumped) / window) + 1)
      const { refreshCalls, reusedRefused } = env.server.stats
      console.log(
        `storm ${transport}: ${refreshCalls} refreshes (budget ${budget}), ${env.server.stats.api401} API 401s, ${texts.length} texts scanned, ${tokens.size} tokens`,
      )
      expect(refreshCalls).toBeGreaterThan(0)
      expect(refreshCalls).toBeLessThanOrEqual(budget)
      expect(reusedRefused).toBe(0)
      expect(tokens.size).toBeGreaterThan(1)
      const leaks = texts.filter(text => [...tokens].some(token => text.includes(token)))
      expect(leaks).toEqual([])
    },
    30_000,
  )
})
