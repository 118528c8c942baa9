/**
 * Issue 26.2 and 26.6 (channel and storage side): a generation a peer or storage claims is
 * news only when it is plausible. Before, one forged `rotate-request` far ahead made the
 * leader refresh in a loop until queueTimeout (~846 refreshes in 3 s), and one storage write
 * of generation 2^40 made every later rotate() fail ("another tab rotated and its tokens have
 * not reached this one yet") with 0 refreshes, until reload.
 */
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { createSession, type Session } from '../../src/index.js'
import { MAX_GENERATION, rotateRequestVerdict } from '../../src/coordinator/protocol.js'
import { bearerLogin, bearerOptions, memoryStorage, sleep, startEnv, TENANT_HEADERS, CREDENTIALS, waitFor, type Env } from '../helpers/index.js'
import { cookieFetch } from '../../src/testing/index.js'

let env: Env
beforeEach(async () => {
  env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
})
afterEach(async () => {
  await env.close()
})

/** `count` tabs of one name (Node: the first leads), logged in, sharing `storage`. */
async function tabs(transport: 'cookie' | 'bearer', count = 2, storage = memoryStorage()) {
  const name = randomUUID()
  const jar = cookieFetch()
  const list: Session[] = []
  for (let i = 0; i < count; i++) {
    const options = transport === 'bearer' ? bearerOptions(env.url) : { scope: env.url, fetch: jar, headers: { 'X-Okapi-Tenant': 'diku' } }
    const tab = createSession({ ...options, rotation: 'request', crossTab: { name }, storage, queueTimeout: 5_000 })
    env.sessions.push(tab)
    list.push(tab)
  }
  const login =
    transport === 'bearer' ? await bearerLogin(env.url) : await jar(`${env.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
  await list[0]!.start(login)
  await waitFor(() => list.every(t => t.state.status === 'active'))
  const channel = new BroadcastChannel(`rotor-auth:${name}`)
  return {
    tabs: list,
    storage,
    key: `rotor-auth:${name}`,
    post: (m: Record<string, unknown>) => channel.postMessage({ rotor: 1, from: 'forger', ...m }),
    close: () => channel.close(),
  }
}

describe('26.2: rotate-request', () => {
  test('the verdict: answer behind, rotate once for the current generation, ignore ahead', () => {
    expect(rotateRequestVerdict(3, 4, undefined)).toBe('answer')
    expect(rotateRequestVerdict(4, 4, undefined)).toBe('rotate')
    expect(rotateRequestVerdict(4, 4, 4)).toBe('ignore')
    expect(rotateRequestVerdict(5, 4, undefined)).toBe('ignore')
    expect(rotateRequestVerdict(MAX_GENERATION, 4, 3)).toBe('ignore')
  })

  test.each(['cookie', 'bearer'] as const)('%s: a forged rotate-request far ahead costs the leader no refresh', async transport => {
    const group = await tabs(transport)
    group.post({ type: 'rotate-request', generation: MAX_GENERATION })
    await sleep(1000)
    expect(env.server.stats.refreshCalls).toBe(0)
    // The session goes on: a real rotation, then requests.
    await group.tabs[1]!.rotate()
    expect((await group.tabs[0]!.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0 })
    group.close()
  })

  test('forged rotate-requests for the current generation, 20 of them: one refresh per generation', async () => {
    const group = await tabs('bearer')
    const generation = group.tabs[0]!.state.generation
    for (let i = 0; i < 20; i++) group.post({ type: 'rotate-request', generation })
    await waitFor(() => group.tabs[0]!.state.generation === generation + 1)
    await sleep(300)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0 })
    group.close()
  })
})

describe('26.6: a refused far-ahead generation never counts as newer', () => {
  test.each(['cookie', 'bearer'] as const)('%s: one storage write of generation 2^40, then rotate() still rotates (one refresh)', async transport => {
    const group = await tabs(transport)
    const forged = { generation: MAX_GENERATION, status: 'active', issuedAt: Date.now(), accessExpiresAt: Date.now() + 3_600_000, refreshExpiresAt: null }
    group.storage.setItem(group.key, JSON.stringify(forged))
    await group.tabs[1]!.rotate()
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0 })
    await waitFor(() => group.tabs.every(t => t.state.generation === 2))
    // The forged leap is overwritten: a reload resumes the real state.
    expect(JSON.parse(group.storage.getItem(group.key)!).generation).toBe(2)
    expect((await group.tabs[0]!.fetch(`${env.url}/api/x`)).status).toBe(200)
    group.close()
  })

  test('bearer: a plausible announced generation no tab can hand over (storage forged one ahead) is refreshed past at the second attempt', async () => {
    const group = await tabs('bearer')
    const current = group.tabs[1]!.state.generation
    const forged = { generation: current + 1, status: 'active', issuedAt: Date.now(), accessExpiresAt: Date.now() + 3_600_000, refreshExpiresAt: null }
    group.storage.setItem(group.key, JSON.stringify(forged))
    // First attempt: its tokens may still be on their way by message: ask, wait, fail transiently.
    await expect(group.tabs[1]!.rotate()).rejects.toThrow(/have not reached/)
    expect(env.server.stats.refreshCalls).toBe(0)
    // Asked twice and no tab holds them: rotate instead of waiting for ever.
    await group.tabs[1]!.rotate()
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0 })
    await waitFor(() => group.tabs.every(t => t.state.generation === current + 2))
    expect((await group.tabs[0]!.fetch(`${env.url}/api/x`)).status).toBe(200)
    group.close()
  })

  test('a forged "rotating" far ahead does not hold rotations', async () => {
    const group = await tabs('bearer')
    group.post({ type: 'rotating', generation: MAX_GENERATION })
    await sleep(50)
    expect(group.tabs.map(t => t.state.rotating)).toEqual([false, false])
    group.close()
  })
})
