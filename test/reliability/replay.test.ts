/**
 * Issue 26.9 (channel and storage side): bounds on what a same-origin script can hold or
 * replay. Before, one forged `reauthenticating` switched `queueTimeout` off in every tab for
 * good, and replay protection remembered 16 RTs per tab: a recorded state replayed 17
 * rotations later, or to a newly opened tab, made it present a spent RT (the server revoked
 * the family).
 */
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { createSession, RotationError, type Message, type Session } from '../../src/index.js'
import { REMOTE_FLAG_MS } from '../../src/core/sync.js'
import { bearerLogin, bearerOptions, sleep, startEnv, waitFor, type Env } from '../helpers/index.js'
import { settle } from './helpers.js'

let env: Env
afterEach(async () => {
  vi.useRealTimers()
  await env.close()
})

function bearerGroup(options: Record<string, unknown> = {}) {
  const name = randomUUID()
  const forger = new BroadcastChannel(`rotor-auth:${name}`)
  const heard: Message[] = []
  forger.onmessage = event => heard.push(event.data as Message)
  const open = (): Session => {
    const tab = createSession({ ...bearerOptions(env.url), rotation: 'request', crossTab: { name }, refreshBudget: { perLifetime: 100, perMinute: 100 }, ...options })
    env.sessions.push(tab)
    return tab
  }
  const states = () => heard.filter((m): m is Extract<Message, { type: 'state' }> => m.type === 'state' && m.snapshot.status === 'active')
  return { open, heard, states, post: (m: Record<string, unknown>) => forger.postMessage({ rotor: 1, from: 'forger', ...m }), close: () => forger.close() }
}

describe('26.9: spent RTs remembered by hash, not a ring of 16', () => {
  test('a state recorded 17 rotations ago and replayed above the current generation is refused; no reused RT', async () => {
    env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
    const group = bearerGroup()
    const tabs = [group.open(), group.open()]
    await tabs[0]!.start(await bearerLogin(env.url))
    await waitFor(() => tabs[1]!.state.status === 'active')
    await tabs[0]!.rotate()
    await waitFor(() => group.states().some(m => m.snapshot.generation === 2))
    const recorded = group.states().find(m => m.snapshot.generation === 2)!.snapshot
    const recordedAt = tabs[0]!.state.generation
    for (let i = 0; i < 17; i++) {
      await tabs[i % 2]!.rotate()
      await waitFor(() => tabs[0]!.state.generation === tabs[1]!.state.generation)
    }
    const current = tabs[0]!.state.generation
    expect(current).toBe(recordedAt + 17)
    group.post({ type: 'state', snapshot: { ...recorded, generation: current + 1 } })
    await sleep(50)
    await tabs[1]!.rotate()
    await waitFor(() => tabs[0]!.state.generation === tabs[1]!.state.generation)
    await tabs[0]!.rotate()
    expect((await tabs[1]!.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ reusedRefused: 0, refreshRefused: 0 })
    expect(tabs.map(t => t.state.status)).toEqual(['active', 'active'])
    group.close()
  })
  // Not closed here: a state replayed to a tab opened after the RT was spent (it never held
  // it). See docs/security.md.
})

describe('26.9: a remote-held flag is bounded', () => {
  test(`a forged "reauthenticating" holds queueTimeout off for at most ${REMOTE_FLAG_MS} ms`, async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] }) // queueTimeout counts on the monotonic clock
    env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
    const group = bearerGroup({ queueTimeout: 1_000, refreshRetries: 0 })
    const tab = group.open()
    await tab.start(await bearerLogin(env.url))
    env.server.fault('refresh', { status: 503, times: Number.POSITIVE_INFINITY })
    group.post({ type: 'reauthenticating', active: true })
    await sleep(50)
    const waiting = settle(tab.authFailed(tab.state.generation))
    let settled = false
    void waiting.then(() => (settled = true))
    for (let t = 0; t < REMOTE_FLAG_MS + 5_000 && !settled; t += 500) await vi.advanceTimersByTimeAsync(500)
    const result = await waiting
    expect(result.ok).toBe(false)
    expect((result as { error: unknown }).error).toBeInstanceOf(RotationError)
    group.close()
  })
})
