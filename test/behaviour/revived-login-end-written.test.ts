/** A tab that answers a login it saw end (revived by a tab that missed the logout) with that end writes it too: the next tab opened joins signed out, not the revived login. */
import { randomUUID } from 'node:crypto'
import { describe, expect, vi } from 'vitest'
import { createSession } from '../../src/index.js'
import { createMemoryCoordinator } from '../../src/testing/index.js'
import type { Message, Snapshot } from '../../src/types.js'
import { bearerLogin, bearerOptions } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

describe('the end that answers a revived login is written', () => {
  test('a tab frozen through two rotations logs out on resume, then hears them: the store holds the end (sim `--worker --extended` seed 210921)', async ({ env }) => {
    const shared = createMemoryCoordinator()
    const name = randomUUID()
    // `stale` is a frozen page: what reaches it waits in its queue, and its coordinator's view of
    // the shared state is the last one it took in (the worker client's read() is its cache).
    let frozen: { view: Snapshot | undefined; queue: Array<() => void> } | undefined
    const member = shared.join()
    const staleCoordinator = {
      ...member,
      read: () => (frozen ? frozen.view : member.read()),
      subscribe: (listener: (message: Message) => void) => member.subscribe(message => (frozen ? frozen.queue.push(() => listener(message)) : listener(message))),
    }
    const fresh = createSession({ ...bearerOptions(env.url), crossTab: { name }, coordinator: shared.join() })
    const stale = createSession({ ...bearerOptions(env.url), crossTab: { name }, coordinator: staleCoordinator })
    env.sessions.push(fresh, stale)
    await fresh.start(await bearerLogin(env.url))
    await vi.waitFor(() => expect(stale.state.status).toBe('active'))
    frozen = { view: member.read(), queue: [] }
    await fresh.rotate()
    await fresh.rotate()
    expect(shared.snapshot).toMatchObject({ status: 'active', generation: 3 })
    // On resume, the click on "log out" runs before the queued news: the end is numbered from
    // what the frozen page knew (2), below the store's 3, which the store keeps.
    await stale.logout()
    expect(shared.snapshot).toMatchObject({ status: 'active', generation: 3 })
    // Then the news: the ended login, rotated meanwhile. The tab answers with its end above it.
    const { queue } = frozen
    frozen = undefined
    for (const deliver of queue) deliver()
    await vi.waitFor(() => expect(fresh.state.status).toBe('signed-out'))
    expect(stale.state.status).toBe('signed-out')
    // Before: that end was only posted, and the store kept the revived login, tokens and all:
    // the next tab opened joined it (the worker welcomed a reloaded tab into it), signed in alone.
    await vi.waitFor(() => expect(shared.snapshot).toMatchObject({ status: 'signed-out', reason: 'user', generation: 4 }))
    const late = createSession({ ...bearerOptions(env.url), crossTab: { name }, coordinator: shared.join() })
    env.sessions.push(late)
    await vi.waitFor(() => expect(late.state.status).toBe('signed-out'))
    expect(late.state.generation).toBe(4)
  })
})
