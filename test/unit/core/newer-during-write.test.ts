// A login published through an asynchronous store while a newer state arrives (the rotation worker numbered two logins written at once above both: sim seed 118848): the newer one stands, but an older login's mark.
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, type Coordinator, type Message, type Session, type Snapshot } from '../../../src/index.js'
import { settle, virtualTime } from './virtual.js'

let session: Session | undefined
afterEach(() => session?.dispose())

/** A coordinator whose writes resolve when `finish()` is called, and whose channel the test speaks on (`tell`). */
function slowStore() {
  const listeners = new Set<(message: Message) => void>()
  const posted: Message[] = []
  let finish: () => void = () => undefined
  let stored: Snapshot | undefined
  const coordinator: Coordinator = {
    read: () => stored,
    write: next => new Promise<void>(resolve => (finish = () => ((stored = next), resolve()))),
    lock: fn => fn(),
    post: message => void posted.push({ ...message, rotor: 1, from: 'me' } as Message),
    subscribe: listener => (listeners.add(listener), () => listeners.delete(listener)),
    isLeader: () => true,
    hasPeers: () => true,
    close: () => undefined,
  }
  const tell = (snapshot: Snapshot) => listeners.forEach(listener => listener({ rotor: 1, type: 'state', from: 'worker', snapshot }))
  return { coordinator, posted, tell, finish: () => finish() }
}

/** A bearer session on `store`'s coordinator and virtual time (its refreshes all fail: none is needed). */
function sessionOn(store: ReturnType<typeof slowStore>, time: ReturnType<typeof virtualTime>): Session {
  return createSession({
    scope: 'https://api.test/api',
    transport: 'bearer',
    rotation: 'request',
    refresh: { url: 'https://api.test/refresh', style: 'json' },
    coordinator: store.coordinator,
    fetch: async () => new Response(null, { status: 500 }),
    platform: { now: time.now, monotonic: time.monotonic, after: time.after, random: time.random, on: time.on },
  })
}

describe('a state newer than the one being published arrives while the store writes', () => {
  it('the session keeps the newer one: it neither enters nor posts its own older state', async () => {
    const time = virtualTime()
    const store = slowStore()
    session = sessionOn(store, time)
    const started = session.start({ accessToken: 'at-mine', refreshToken: 'rt-mine', expiresIn: 60, refreshExpiresIn: 600 })
    await settle()
    // The worker settled this login against another one written at once: the other, one generation above.
    const newer: Snapshot = {
      generation: 2,
      status: 'active',
      issuedAt: time.now(),
      accessExpiresAt: time.now() + 60_000,
      refreshExpiresAt: time.now() + 600_000,
      accessToken: 'at-theirs',
      login: { id: 'theirs', at: time.now() + 1 },
    }
    store.tell(newer)
    expect(session.state).toMatchObject({ status: 'active', generation: 2 })
    store.finish()
    await started
    expect(session.state).toMatchObject({ status: 'active', generation: 2 })
    expect(await session.accessToken()).toBe('at-theirs')
    expect(store.posted.filter(m => m.type === 'state')).toEqual([])
  })

  it("an older login's mark (its RT dead, a login owed) does not stand: the login goes again, above it, and is the session (sim `--worker --no-locks --extended` seed 30199)", async () => {
    const time = virtualTime()
    const store = slowStore()
    session = sessionOn(store, time)
    const started = session.start({ accessToken: 'at-mine', refreshToken: 'rt-mine', expiresIn: 60, refreshExpiresIn: 600 })
    await settle()
    // A frozen tab's user signed in; on resume it hears, while its login is written, the mark of the session it had joined.
    const mark: Snapshot = {
      generation: 2,
      status: 'active',
      issuedAt: time.now() - 10_000,
      accessExpiresAt: time.now() + 50_000,
      refreshExpiresAt: time.now() + 590_000,
      accessToken: 'at-old',
      login: { id: 'old', at: time.now() - 10_000 },
      ending: 'rejected',
    }
    store.tell(mark)
    store.finish()
    await settle()
    // Before: the mark stood, and the user's new login was dropped for a session owing a login.
    store.finish()
    await started
    expect(session.state).toMatchObject({ status: 'active', generation: 3 })
    expect(await session.accessToken()).toBe('at-mine')
    expect(store.posted.filter(m => m.type === 'state').map(m => m.type === 'state' && m.snapshot.generation)).toEqual([3])
  })

  it('marks that keep coming (a forger posts one during every write) end it after two more writes: bounded whatever the other side does', async () => {
    const time = virtualTime()
    const store = slowStore()
    let writes = 0
    const write = store.coordinator.write
    store.coordinator.write = next => {
      writes++
      const written = write(next)
      const generation = next.generation + 1
      store.tell({ ...next, generation, accessToken: 'at-old', login: { id: 'old', at: 0 }, ending: 'rejected' })
      store.finish()
      return written
    }
    session = sessionOn(store, time)
    await session.start({ accessToken: 'at-mine', refreshToken: 'rt-mine', expiresIn: 60, refreshExpiresIn: 600 })
    expect(writes).toBe(3)
  })
})
