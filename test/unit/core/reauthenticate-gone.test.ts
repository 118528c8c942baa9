// A page gone while its reauthenticate() hook is open (closed, reloaded) runs no more code: the next lock holder must still know the RT is dead (sim seed 307).
import { describe, expect, it } from 'vitest'
import { RefreshRefusedError } from '../../../src/errors.js'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, loginForm, sessionCore, settle, virtualTime, type Core } from './virtual.js'

function setup() {
  const time = virtualTime()
  const server = fakeServer(time)
  const shared = createMemoryCoordinator()
  const forms = [loginForm(), loginForm()] as const
  const [a, b] = forms.map(form => sessionCore(time, server, shared, { reauthenticate: form.hook }))
  return { time, server, shared, forms, a: a!, b: b! }
}

/** The page is gone: nothing it would still write or post reaches the others (its lock is released by the browser). */
function gone(core: Core): void {
  core.coordinator.write = () => undefined
  core.coordinator.post = () => undefined
  core.rotator.dispose()
}

/** `a` logs in, then its refresh is refused: its login form opens (the rotation waits on it); the server answers again from then on. */
async function refusedWithFormOpen({ server, a }: ReturnType<typeof setup>): Promise<{ rotation: Promise<void> }> {
  await a.start()
  await settle()
  server.answerWith(() => Promise.reject(new RefreshRefusedError(401, 'refused')))
  const rotation = a.rotator.rotateFrom(a.machine.snapshot.generation)
  rotation.catch(() => undefined) // awaited (or caught) by the test
  await settle()
  // In an object: an async function's promise would adopt the rotation's, which waits for the form.
  return { rotation }
}

describe('a tab gone while its reauthenticate() hook is open', () => {
  it('the next lock holder takes the login over and never presents the refused RT', async () => {
    const world = setup()
    const { server, forms, a, b } = world
    const first = (await refusedWithFormOpen(world)).rotation.catch((e: unknown) => e)
    expect(forms[0].calls).toEqual([1])
    server.answerWith(undefined)
    // b needs a rotation: it waits on the lock a's login holds.
    const second = b.rotator.rotateFrom(b.machine.snapshot.generation).catch((e: unknown) => e)
    await settle()
    gone(a)
    await first
    await settle()
    // Before: a wrote its "ending" only after the abort, which a gone page never runs; b read
    // the state as active and presented rt-1 again (the server saw ['rt-1', 'rt-1']).
    expect(server.presented).toEqual(['rt-1'])
    expect(forms[1].calls).toEqual([1])
    forms[1].answer({ accessToken: 'at-login', refreshToken: 'rt-login', expiresIn: 60, refreshExpiresIn: 600 })
    expect(await second).toBeUndefined()
    expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-login' })
    expect(b.machine.snapshot.ending).toBeUndefined()
  })

  it('a hook that succeeds replaces the mark: the peer, which read it, adopts the login and ends nothing', async () => {
    const world = setup()
    const { server, forms, a, b } = world
    const { rotation: first } = await refusedWithFormOpen(world)
    server.answerWith(undefined)
    // The peer heard the mark: its RT is dead, a login is owed (its requests wait for it).
    expect(b.machine.snapshot).toMatchObject({ status: 'active', ending: 'rejected' })
    const second = b.rotator.rotateFrom(b.machine.snapshot.generation)
    await settle()
    forms[0].answer({ accessToken: 'at-login', refreshToken: 'rt-login', expiresIn: 60, refreshExpiresIn: 600 })
    await first
    await second
    await settle()
    for (const core of [a, b]) {
      expect(core.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-login' })
      expect(core.machine.snapshot.ending).toBeUndefined()
    }
    expect(server.presented).toEqual(['rt-1'])
    expect(forms[1].calls).toEqual([])
  })

  it('disposed after the user logged in again elsewhere: the new login is not marked dead nor handed over', async () => {
    const world = setup()
    const { server, forms, a, b } = world
    const first = (await refusedWithFormOpen(world)).rotation.catch((e: unknown) => e)
    server.answerWith(undefined)
    // The user signs in again in b while a's form (which ignores its signal) is still open.
    await b.start()
    await settle()
    expect(a.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-2' })
    a.rotator.dispose()
    await first
    await settle()
    // Before: the dispose wrote "ending" over the new login (sim seed 813147), and the next
    // tab to rotate called its own hook and, dismissed, ended the live session.
    expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-2' })
    expect(b.machine.snapshot.ending).toBeUndefined()
    await b.rotator.rotateFrom(b.machine.snapshot.generation)
    expect(forms[1].calls).toEqual([])
    expect(server.presented).toEqual(['rt-1', 'rt-2'])
  })

  it('a hook that fails ends the session everywhere, the mark included', async () => {
    const world = setup()
    const { server, forms, a, b } = world
    const first = (await refusedWithFormOpen(world)).rotation.catch((e: unknown) => e)
    forms[0].answer(undefined)
    await first
    await settle()
    for (const core of [a, b]) expect(core.machine.snapshot).toMatchObject({ status: 'signed-out', reason: 'rejected' })
    expect(server.presented).toEqual(['rt-1'])
  })
})
