import { describe, expect, vi } from 'vitest'
import { SessionExpiredError } from '../../src/index.js'
import { browserTabs, record, sleep } from '../helpers/index.js'
import { serverTest, type ServerFixtures } from '../helpers/fixtures.js'

const AT = 60_000
const RT = 600_000
const test = serverTest({ accessTokenTtl: AT, refreshTokenTtl: RT })

describe('reauthenticate: the session would end, the app logs in again, nothing queued is lost', () => {
  /** `count` tabs of one browser; the hook may call `login()` (the same cookie jar). */
  function tabs({ env, clock }: ServerFixtures, count: number, reauthenticate: () => Promise<Response | void>) {
    const browser = browserTabs(env, { rotation: 'request', now: clock.now, reauthenticate })
    for (let i = 0; i < count; i++) browser.open()
    return { list: browser.tabs, login: browser.login }
  }

  test('RT refused: the hook runs once, queued requests are sent with the new session', async ({ env, clock }) => {
    let calls = 0
    const {
      list: [tab],
      login,
    } = tabs({ env, clock }, 1, async () => {
      calls++
      return login()
    })
    await tab!.start(await login())
    const log = record(tab!)
    env.server.fault('refresh', { status: 401 })
    clock.advance(AT + 1)
    const responses = await Promise.all([1, 2, 3, 4, 5].map(i => tab!.fetch(`${env.url}/api/${i}`, { method: 'POST', body: `n=${i}` })))
    expect(responses.map(r => r.status)).toEqual([200, 200, 200, 200, 200])
    expect((await responses[4]!.json()).body).toBe('n=5')
    expect(calls).toBe(1)
    expect(env.server.stats).toMatchObject({ logins: 2, api200: 5, api401: 0 })
    expect(log.of('logout')).toEqual([])
    expect(tab!.state.status).toBe('active')
  })

  test('both tokens expired, three tabs waiting: the hook runs once across all tabs', async ({ env, clock }) => {
    let calls = 0
    const { list, login } = tabs({ env, clock }, 3, async () => {
      calls++
      await sleep(20) // the user types their password
      return login()
    })
    await list[0]!.start(await login())
    await vi.waitFor(() => expect(list.map(t => t.state.status)).toEqual(['active', 'active', 'active']))
    clock.advance(RT + 1)
    const responses = await Promise.all(list.flatMap(tab => [1, 2].map(i => tab.fetch(`${env.url}/api/${i}`))))
    expect(responses.map(r => r.status)).toEqual(Array(6).fill(200))
    expect(calls).toBe(1)
    expect(env.server.stats).toMatchObject({ logins: 2, refreshCalls: 0, api200: 6, reusedRefused: 0 })
  })

  test('the hook gives up: logout with the reason, every queued request rejects', async ({ env, clock }) => {
    const {
      list: [tab],
      login,
    } = tabs({ env, clock }, 1, async () => undefined)
    await tab!.start(await login())
    const log = record(tab!)
    env.server.fault('refresh', { status: 403 })
    clock.advance(AT + 1)
    const results = await Promise.allSettled([1, 2].map(i => tab!.fetch(`${env.url}/api/${i}`)))
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SessionExpiredError)
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_REFRESH_REFUSED' }) }])
  })

  test('the hook throws: the same as giving up, the error kept as cause', async ({ env, clock }) => {
    const {
      list: [tab],
      login,
    } = tabs({ env, clock }, 1, async () => {
      throw new Error('login form closed')
    })
    await tab!.start(await login())
    clock.advance(RT + 1)
    const error = await tab!.fetch(`${env.url}/api/x`).catch(e => e)
    expect(error).toBeInstanceOf(SessionExpiredError)
    expect(error.reason).toBe('expired')
  })

  test('a login that takes longer than queueTimeout still resumes the queued requests', async ({ env, clock }) => {
    const browser = browserTabs(env, {
      crossTab: false,
      rotation: 'request',
      now: clock.now,
      queueTimeout: 100,
      reauthenticate: async () => {
        await sleep(400) // the user is typing
        return browser.login()
      },
    })
    const tab = browser.open()
    await browser.start(tab)
    clock.advance(RT + 1)
    const responses = await Promise.all([1, 2].map(i => tab.fetch(`${env.url}/api/${i}`)))
    expect(responses.map(r => r.status)).toEqual([200, 200])
    expect(env.server.stats).toMatchObject({ logins: 2, api200: 2, api401: 0 })
  })
})
