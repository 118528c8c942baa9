// A tab opened after the wall clock moved forward (it saw no jump: its clock watch starts with it) must ask the server before ending a session its clock calls dead (sim seed 14078).
import { describe, expect, it } from 'vitest'
import type { Snapshot } from '../../../src/coordinator/types.js'
import { RefreshRefusedError } from '../../../src/errors.js'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, sessionCore, settle, virtualTime } from './virtual.js'

/** Tab a logs in; the wall clock moves forward past the AT (the RT has 10 s left); tab b opens, then its clock runs past the RT too. */
async function setup() {
  const time = virtualTime()
  const server = fakeServer(time)
  const shared = createMemoryCoordinator()
  const a = sessionCore(time, server, shared)
  await a.start()
  await settle()
  time.jump(590_000)
  const b = sessionCore(time, server, shared)
  await settle()
  expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-1' })
  time.stall(20_000)
  expect(b.machine.refreshExpired() && !b.machine.usable()).toBe(true)
  return { time, server, b }
}

describe('a state issued before this tab opened, dead by its clock', () => {
  it('is checked with the server once: an RT still alive there rotates, and nothing ends', async () => {
    const { server, b } = await setup()
    b.policy.due()
    await settle()
    // Before: ended `expired` with no call (the server saw []).
    expect(server.presented).toEqual(['rt-1'])
    expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-2' })
  })

  it('a refusal ends it `rejected`', async () => {
    const { server, b } = await setup()
    server.answerWith(() => Promise.reject(new RefreshRefusedError(401, 'expired')))
    b.policy.due()
    await settle()
    expect(server.presented).toEqual(['rt-1'])
    expect(b.machine.snapshot).toMatchObject({ status: 'signed-out', reason: 'rejected' })
  })

  it('asked once per state: after a failed ask the local verdict stands', async () => {
    const { time, server, b } = await setup()
    server.answerWith(() => Promise.reject(new TypeError('offline')))
    b.policy.due()
    await time.advance(60_000)
    b.policy.due()
    await time.advance(60_000)
    expect(server.presented).toEqual(['rt-1'])
    expect(b.machine.snapshot).toMatchObject({ status: 'signed-out', reason: 'expired' })
  })
})

describe('a state issued before a jump this tab saw, adopted after it', () => {
  it('is checked with the server once, though adopting it settled the doubt (sim seed 189535)', async () => {
    const time = virtualTime()
    const server = fakeServer(time)
    // Messages take 5 ms: the peer's state is on its way while the clock is set forward.
    const shared = createMemoryCoordinator({ delay: 5, after: (ms, fn) => time.after(ms, fn), sharesTokens: 'message' })
    const b = sessionCore(time, server, shared, { watchClock: true })
    const a = sessionCore(time, server, shared, { watchClock: true })
    await a.start()
    // Forward past both tokens (AT 60 s, RT 600 s), before b hears of the login.
    time.jump(700_000)
    await time.advance(10)
    expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-1' })
    expect(b.machine.refreshExpired() && !b.machine.usable()).toBe(true)
    b.policy.due()
    await settle()
    // Before: the adoption settled the watch's doubt, and the tab ended `expired` without asking (the server saw []).
    expect(server.presented).toEqual(['rt-1'])
    expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-2' })
  })
})

describe('a spent mark whose old times look dead after the clock was set forward', () => {
  it('is a rotation under way, not an end: the tab waits for its grant (sim `--worker --no-locks` seed 83752)', async () => {
    const time = virtualTime()
    const server = fakeServer(time)
    const shared = createMemoryCoordinator()
    const b = sessionCore(time, server, shared)
    await b.start()
    await settle()
    const held = b.machine.snapshot
    // Past both tokens, then another holder's refresh spent the RT (its 2xx's headers came): the mark, its grant a message behind.
    time.jump(4_000_000)
    const holder = shared.join()
    const { refreshToken: _spent, ...rest } = held
    const mark: Snapshot = { ...rest, ending: 'rejected', rotatingSince: time.now() }
    await holder.write(mark)
    holder.post({ type: 'state', snapshot: mark })
    await settle()
    expect(b.machine.snapshot).toMatchObject({ generation: held.generation, ending: 'rejected' })
    expect(b.machine.refreshExpired() && !b.machine.usable()).toBe(true)
    b.policy.due()
    await time.advance(300)
    // Before: ended `expired` here, the session's new tokens 300 ms from arriving.
    expect(b.machine.snapshot.status).toBe('active')
    const at = time.now()
    const grant: Snapshot = {
      ...rest,
      generation: held.generation + 1,
      issuedAt: at,
      accessExpiresAt: at + 60_000,
      refreshExpiresAt: at + 600_000,
      accessToken: 'at-x',
      refreshToken: 'rt-x',
    }
    await holder.write(grant)
    holder.post({ type: 'state', snapshot: grant })
    await time.advance(1_000)
    expect(b.machine.snapshot).toMatchObject({ status: 'active', generation: held.generation + 1, accessToken: 'at-x' })
    // Nobody presented the spent RT again.
    expect(server.presented).toEqual([])
  })
})
