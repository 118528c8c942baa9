/**
 * Issue 13, item 6 (the parts a tab can check on its own): any same-origin script can post on
 * the session's BroadcastChannel. A forged state whose generation leaps ahead, or a recorded
 * state replayed later with a bumped generation, used to be adopted: the first wedged the
 * counter, the second moved every tab back onto an RT it had already spent, so the next
 * refresh presented it and the server revoked the family. A forger listens on the channel
 * here and posts; the server counts what the tabs present.
 */
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { createSession, type Message, type Session, type Snapshot } from '../../src/index.js'
import { MAX_GENERATION_JUMP } from '../../src/coordinator/protocol.js'
import { bearerLogin, bearerOptions, record, startEnv, waitFor, type Env } from '../helpers/index.js'

let env: Env
beforeEach(async () => {
  env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
})
afterEach(async () => {
  await env.close()
})

/** Two bearer tabs sharing a name, logged in, and a forger on their channel. */
async function tabsAndForger(options: { idle?: { timeout: number } } = {}) {
  const name = randomUUID()
  const tabs: Session[] = []
  for (let i = 0; i < 2; i++) {
    const tab = createSession({
      ...bearerOptions(env.url),
      rotation: 'request',
      crossTab: { name },
      ...options,
    })
    env.sessions.push(tab)
    tabs.push(tab)
  }
  await tabs[0]!.start(await bearerLogin(env.url))
  await waitFor(() => tabs[1]!.state.status === 'active')
  const forger = new BroadcastChannel(`rotor-auth:${name}`)
  const heard: Message[] = []
  forger.onmessage = event => heard.push(event.data as Message)
  const post = (snapshot: Snapshot) => forger.postMessage({ rotor: 1, type: 'state', from: 'forger', snapshot })
  const activity = (at: number) => forger.postMessage({ rotor: 1, type: 'activity', from: 'forger', at })
  return { tabs, heard, post, activity, close: () => forger.close() }
}

describe('6. forged channel messages', () => {
  test('a forged activity an hour in the future does not postpone the idle logout by an hour', async () => {
    const { tabs, activity, close } = await tabsAndForger({ idle: { timeout: 400 } })
    const logs = tabs.map(record)
    activity(Date.now() + 3_600_000)
    await waitFor(() => tabs.every(t => t.state.status === 'signed-out'), { timeout: 3_000 })
    expect(logs.flatMap(l => l.of('logout')).map(l => l['reason'])).toContain('idle')
    close()
  })

  test(`a state ${MAX_GENERATION_JUMP + 1} generations ahead is refused; the session goes on`, async () => {
    const { tabs, post, close } = await tabsAndForger()
    const before = tabs[1]!.state.generation
    post({
      generation: before + MAX_GENERATION_JUMP + 1,
      status: 'active',
      issuedAt: Date.now(),
      accessExpiresAt: Date.now() + 3_600_000,
      refreshExpiresAt: null,
      accessToken: 'forged',
      refreshToken: 'forged',
    })
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(tabs.map(t => t.state.generation)).toEqual([before, before])
    await tabs[1]!.rotate()
    expect((await tabs[0]!.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0, api401: 0 })
    close()
  })

  test('a recorded state replayed later (generation bumped) never moves a tab back onto a spent RT', async () => {
    const { tabs, heard, post, close } = await tabsAndForger()
    const logs = tabs.map(record)
    await tabs[0]!.rotate()
    // The forger recorded the rotation's state message (tokens of generation 2) ...
    await waitFor(() => heard.some(m => m.type === 'state'))
    const recorded = heard.find((m): m is Extract<Message, { type: 'state' }> => m.type === 'state' && m.snapshot.status === 'active')!
    expect(recorded.snapshot.refreshToken).toBeDefined()
    await tabs[1]!.rotate()
    await waitFor(() => tabs[0]!.state.generation === tabs[1]!.state.generation)
    // ... and replays it after the next one, one generation ahead so that it would win.
    const current = tabs[0]!.state.generation
    post({ ...recorded.snapshot, generation: current + 1 })
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(tabs.map(t => t.state.generation)).toEqual([current, current])
    await tabs[0]!.rotate()
    expect(env.server.stats).toMatchObject({ refreshCalls: 3, refreshGranted: 3, reusedRefused: 0, refreshRefused: 0 })
    expect(logs.flatMap(l => l.of('logout'))).toEqual([])
    close()
  })
})
