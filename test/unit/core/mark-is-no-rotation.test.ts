// A rotation asked for before another tab wrote its "ending" mark (the RT is dead, a login is owed) must not take the mark for a rotation (virtual time).
import { describe, expect, it } from 'vitest'
import { REMOTE_FLAG_MS } from '../../../src/core/sync.js'
import { RefreshRefusedError } from '../../../src/errors.js'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, loginForm, sessionCore, settle, virtualTime, type Core } from './virtual.js'

const LOGIN = { accessToken: 'at-login', refreshToken: 'rt-login', expiresIn: 60, refreshExpiresIn: 600 }
const QUEUE_TIMEOUT = 45_000

/**
 * `a` logs in; `b` holds generation 1 and asks for a rotation from it; `a`'s refresh is refused,
 * so `a` marks the RT dead (generation 2) and its login form opens. `b`'s lock does not wait on
 * `a`'s (a Redis lease run out, a follower where tabs share no lock): it runs at once.
 */
async function markedWhileAsked() {
  const time = virtualTime()
  const server = fakeServer(time)
  const shared = createMemoryCoordinator()
  const forms = [loginForm(), loginForm()] as const
  const [a, b] = forms.map(form => sessionCore(time, server, shared, { reauthenticate: form.hook, queueTimeout: QUEUE_TIMEOUT })) as [Core, Core]
  await a.start()
  await settle()
  const asked = b.machine.snapshot.generation
  server.answerWith(() => Promise.reject(new RefreshRefusedError(401, 'refused')))
  void a.rotator.rotateFrom(asked).catch(() => undefined)
  await settle()
  server.answerWith(undefined)
  expect(forms[0].calls).toEqual([1])
  expect(b.machine.snapshot).toMatchObject({ status: 'active', generation: asked + 1, ending: 'rejected' })
  b.coordinator.lock = fn => fn()
  let outcome: unknown = 'pending'
  const rotation = b.rotator.rotateFrom(asked).then(
    () => (outcome = 'resolved'),
    (error: unknown) => (outcome = error),
  )
  await settle()
  return { time, server, forms, a, b, rotation, outcome: () => outcome }
}

describe('a rotation that meets another tab\'s newer "ending" mark', () => {
  it("is not settled by it: it waits for that tab's login, adopts it, and presents nothing", async () => {
    const { time, server, forms, b, rotation, outcome } = await markedWhileAsked()
    // Before: the mark's higher generation read as "rotated elsewhere" and the rotation resolved at once.
    expect(outcome()).toBe('pending')
    await time.advance(QUEUE_TIMEOUT / 2)
    expect(outcome()).toBe('pending')
    forms[0].answer(LOGIN)
    await rotation
    expect(outcome()).toBe('resolved')
    expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-login' })
    expect(b.machine.snapshot.ending).toBeUndefined()
    expect(forms[1].calls).toEqual([])
    expect(server.presented).toEqual(['rt-1'])
  })

  it("ends with the session when that tab's login fails", async () => {
    const { forms, b, rotation, outcome, server } = await markedWhileAsked()
    forms[0].answer(undefined)
    await rotation
    expect(outcome()).toMatchObject({ code: 'ERR_SESSION_EXPIRED', reason: 'rejected' })
    expect(b.machine.snapshot).toMatchObject({ status: 'signed-out' })
    expect(server.presented).toEqual(['rt-1'])
  })

  it('takes the login over once no tab says it is logging in (that tab gone without a word), bounded by the flag', async () => {
    const { time, server, forms, a, b, rotation, outcome } = await markedWhileAsked()
    // a is gone: nothing it would post arrives, its flag is never renewed nor withdrawn.
    a.coordinator.post = () => undefined
    a.coordinator.write = () => undefined
    a.rotator.dispose()
    await time.advance(REMOTE_FLAG_MS - 1000)
    expect(forms[1].calls).toEqual([])
    await time.advance(2000)
    expect(forms[1].calls).toEqual([1])
    forms[1].answer(LOGIN)
    await rotation
    expect(outcome()).toBe('resolved')
    expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-login' })
    expect(server.presented).toEqual(['rt-1'])
  })

  it('takes the login over after queueTimeout at most, however long that tab keeps saying it is logging in', async () => {
    const { time, server, forms, rotation, outcome } = await markedWhileAsked()
    await time.advance(QUEUE_TIMEOUT - 1000)
    expect(forms[1].calls).toEqual([])
    await time.advance(2000)
    expect(forms[1].calls).toEqual([1])
    expect(outcome()).toBe('pending')
    forms[1].answer(LOGIN)
    await rotation
    expect(server.presented).toEqual(['rt-1'])
  })
})
