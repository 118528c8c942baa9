/**
 * The session's coordinator with `worker` (src/worker/via-worker.ts) against scripted worker
 * ports, on virtual time: which coordinator serves the session when the worker is lost at each
 * moment, that no lock bounces between a lost worker and the page's coordinator, and that a
 * tab that lost the worker rejoins it (the newer state winning on both sides).
 */
import { describe, expect, it, vi } from 'vitest'
import { normalizeOptions } from '../../src/core/options.js'
import type { Coordinator, Lease, LockOptions, Message, Snapshot } from '../../src/coordinator/types.js'
import type { SharedWorkerLike } from '../../src/platform/types.js'
import type { SessionOptions } from '../../src/types.js'
import { reconcile } from '../../src/worker/reconcile.js'
import { viaWorker } from '../../src/worker/via-worker.js'
import { supersedes } from '../../src/coordinator/protocol.js'
import { outlives } from '../../src/core/login-order.js'
import { PROTOCOL_VERSION } from '../../src/worker/protocol.js'
import { virtualTime } from '../helpers/virtual-time.js'

/** Lets every promise chain queued so far run. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
}

type Posted = Record<string, unknown>

/** One worker connection the test drives by hand: what the tab posted, its port's `onmessage`, and its `error` event. */
function scriptedWorker() {
  const posted: Posted[] = []
  const errors: Array<() => void> = []
  const port = {
    onmessage: null as ((event: MessageEvent) => void) | null,
    postMessage: (data: Posted) => void posted.push(data),
    start: () => undefined,
    close: () => undefined,
  }
  const worker: SharedWorkerLike = { port: port as unknown as MessagePort, addEventListener: (_type: string, listener: () => void) => void errors.push(listener) }
  const idOf = (w: string) => posted.find(m => m['w'] === w)?.['id']
  const say = (data: Posted) => port.onmessage?.({ data } as MessageEvent)
  return {
    worker,
    posted,
    /** The worker's answer to the tab's hello, with the state it holds. */
    welcome: (snapshot?: Snapshot, rt?: true) => say({ w: 'welcome', id: idOf('hello'), version: PROTOCOL_VERSION, ...(snapshot ? { snapshot } : {}), ...(rt ? { rt } : {}) }),
    refuse: () => say({ w: 'refused', id: idOf('hello'), reason: 'the worker runs this session with other options' }),
    /** Answers every request posted so far (pings, writes). */
    answerAll: () => posted.filter(m => typeof m['id'] === 'number' && m['w'] !== 'hello').forEach(m => say({ w: 'done', id: m['id'] })),
    /** The browser says the worker's script threw (the tab gives it up). */
    fail: () => errors.forEach(listener => listener()),
  }
}

/** The page's own coordinator, counting what it was asked. */
function pageCoordinator() {
  const counts = { locks: 0, made: 0 }
  let release: (() => void) | undefined
  const make = (): Coordinator => {
    counts.made++
    return {
      read: () => undefined,
      write: async () => undefined,
      lock: <T>(fn: (lease?: Lease) => Promise<T>, _options?: LockOptions) => (counts.locks++, fn()),
      post: () => undefined,
      subscribe: () => () => undefined,
      isLeader: () => true,
      hasPeers: () => false,
      close: () => undefined,
    }
  }
  return { make, counts, hold: () => new Promise<void>(resolve => (release = resolve)), release: () => release?.() }
}

function setup(transport: 'cookie' | 'bearer' = 'cookie', extra: Partial<SessionOptions> = {}) {
  const time = virtualTime(1_000_000)
  const workers: Array<ReturnType<typeof scriptedWorker>> = []
  const options = {
    scope: 'https://app.test/okapi',
    transport,
    crossTab: { name: 'via-worker-test' },
    worker: 'https://app.test/rotor-worker.js',
    ...extra,
    platform: {
      now: time.now,
      after: time.after,
      random: () => 0.5,
      storage: undefined,
      sharedWorker: () => workers[workers.push(scriptedWorker()) - 1]!.worker,
      ...extra.platform,
    },
  } as SessionOptions
  const cfg = normalizeOptions(options)
  const page = pageCoordinator()
  const fallbacks: string[] = []
  const coordinator = viaWorker({
    cfg: cfg as Parameters<typeof viaWorker>[0]['cfg'],
    local: page.make,
    onFallback: reason => fallbacks.push(reason),
    onStorageError: () => undefined,
    revoke: () => undefined,
    login: async () => undefined,
  })
  const heard: Message[] = []
  coordinator.subscribe(message => heard.push(message))
  /** Resolves once connection number `n` (from 1) said hello (the worker client loads by `import()`). */
  const hello = async (n: number) => {
    await vi.waitFor(() => expect(workers[n - 1]?.posted.some(m => m['w'] === 'hello')).toBe(true))
    return workers[n - 1]!
  }
  return { time, coordinator, page, fallbacks, workers, heard, hello }
}

const active = (generation: number, extra: Partial<Snapshot> = {}): Snapshot => ({
  generation,
  status: 'active',
  issuedAt: 1,
  accessExpiresAt: 2_000_000,
  refreshExpiresAt: null,
  ...extra,
})

/** Connection 1 welcomed the tab at generation 3, then was lost (the browser killed the worker): the tab is on the page's coordinator. */
async function lostAfterWelcome(hello: (n: number) => Promise<ReturnType<typeof scriptedWorker>>): Promise<void> {
  const first = await hello(1)
  first.welcome(active(3))
  await settle()
  first.fail()
}

/** A tab that lost its worker holds a login's RT (generation 4) and rotates: at its second connection's hello (the rotation tries the worker first). */
async function rotationHoldingRT(coordinator: Coordinator, hello: (n: number) => Promise<ReturnType<typeof scriptedWorker>>) {
  await lostAfterWelcome(hello)
  const login = { id: 'form-1', at: 5 }
  await coordinator.write(active(4, { issuedAt: 10, login, accessToken: 'at-1', refreshToken: 'rt-1' }))
  const rotation = coordinator.lock(async () => 'rotated', { refresh: true, generation: 4 })
  return { login, rotation, second: await hello(2) }
}

/** A bearer tab whose first worker was lost while its own session went on to hold an RT (generation 4), at its second connection's hello. */
async function bearerTabRejoins() {
  const { time, coordinator, workers, hello } = setup('bearer')
  const first = await hello(1)
  first.welcome()
  await settle()
  first.fail()
  await coordinator.write(active(4, { accessToken: 'at', refreshToken: 'rt' }))
  time.advance(1_000)
  const second = await hello(2)
  return { workers, second }
}

describe('a worker lost between its welcome and its adoption', () => {
  it('is never adopted: the session stays on the page coordinator, and a lock runs there once', async () => {
    const { time, coordinator, page, fallbacks, hello } = setup()
    const first = await hello(1)
    // The welcome and, in the same task, the worker's error: the tab gives the worker up before
    // the promise of its connection reaches the session.
    first.welcome()
    first.fail()
    await settle()
    expect(fallbacks).toHaveLength(1)
    // Without Web Locks a cookie tab's rotation first tries the worker again; none answers
    // within the connect bound.
    const ran = coordinator.lock(async () => 'ran', { refresh: true })
    await hello(2)
    time.advance(5_000)
    expect(await ran).toBe('ran')
    expect(page.counts.locks).toBe(1)
    expect(await coordinator.lock(async () => 'again')).toBe('again')
    expect(page.counts.locks).toBe(2)
  })
})

describe('a tab that lost the worker', () => {
  it('tries it again after a backoff and, once welcomed, is back on it: the worker state it missed reaches the session', async () => {
    const { time, coordinator, page, fallbacks, workers, heard, hello } = setup()
    await lostAfterWelcome(hello)
    expect(fallbacks).toEqual([expect.stringContaining('the worker was lost')])
    expect(page.counts.made).toBe(1)
    // Under a second nothing is tried; by 1 s (the first backoff, its upper half) a new connection says hello.
    time.advance(400)
    await settle()
    expect(workers).toHaveLength(1)
    time.advance(1_000)
    const second = await hello(2)
    second.welcome(active(5))
    await settle()
    expect(heard).toContainEqual(expect.objectContaining({ type: 'state', snapshot: active(5) }))
    // The session's locks go to the worker again (it asks for the rotation), not to the page.
    void coordinator.lock(async () => undefined, { refresh: true }).catch(() => undefined)
    expect(second.posted).toContainEqual(expect.objectContaining({ w: 'post', message: expect.objectContaining({ type: 'rotate-request' }) }))
    expect(page.counts.locks).toBe(0)
    expect(fallbacks).toHaveLength(1)
  })

  it('hands the worker the newer state it made meanwhile, to write and to tell the other tabs', async () => {
    const { time, coordinator, hello } = setup()
    await lostAfterWelcome(hello)
    await coordinator.write(active(4))
    time.advance(1_000)
    const second = await hello(2)
    second.welcome(active(3))
    await settle()
    expect(second.posted).toContainEqual(expect.objectContaining({ w: 'write', snapshot: active(4) }))
    expect(second.posted).toContainEqual(expect.objectContaining({ w: 'post', message: expect.objectContaining({ type: 'state', snapshot: active(4) }) }))
  })

  it('does not rejoin while a lock of the page is held (its RT may be on the wire): it says bye and tries later', async () => {
    const { time, coordinator, page, hello } = setup()
    const first = await hello(1)
    first.welcome()
    await settle()
    first.fail()
    const held = coordinator.lock(() => page.hold())
    time.advance(1_000)
    const second = await hello(2)
    second.welcome()
    await settle()
    expect(second.posted).toContainEqual({ w: 'bye' })
    page.release()
    await held
    time.advance(2_000)
    const third = await hello(3)
    third.welcome()
    await settle()
    expect(third.posted).not.toContainEqual({ w: 'bye' })
  })

  it('with bearer tokens, beside a worker holding an RT while its own session holds one, one RT is dropped: without login marks the worker keeps its own (two-logins.test.ts: the login started last)', async () => {
    const { second } = await bearerTabRejoins()
    second.welcome(active(3, { accessToken: 'theirs' }), true)
    await settle()
    expect(second.posted).not.toContainEqual({ w: 'bye' })
    // The worker's state, numbered above the tab's (4): the worker keeps its RT under it (hub.ts #renumbered).
    expect(second.posted).toContainEqual(expect.objectContaining({ w: 'write', snapshot: active(5, { accessToken: 'theirs' }) }))
    expect(second.posted.some(m => m['w'] === 'write' && (m['snapshot'] as Snapshot).refreshToken !== undefined)).toBe(false)
  })

  it('with bearer tokens, does not rejoin a worker holding an RT whose session is ending while its own holds one (neither can win yet)', async () => {
    const { workers, second } = await bearerTabRejoins()
    second.welcome(active(3, { accessToken: 'theirs', ending: 'rejected' }), true)
    await settle()
    expect(second.posted).toContainEqual({ w: 'bye' })
    expect(second.posted.some(m => m['w'] === 'write')).toBe(false)
    expect(workers).toHaveLength(2)
  })

  it('with bearer tokens, hands its RT to a worker that holds none (the killed one took its RT along), one generation above its state', async () => {
    const { second } = await bearerTabRejoins()
    // A new run that started from what a page remembered: active, without the RT.
    second.welcome(active(6))
    await settle()
    expect(second.posted).not.toContainEqual({ w: 'bye' })
    expect(second.posted).toContainEqual(expect.objectContaining({ w: 'write', snapshot: active(7, { accessToken: 'at', refreshToken: 'rt' }) }))
  })

  it('with bearer tokens and no RT of its own, a rotation first tries the worker, and is asked of it, not run on the page (sim seed 183)', async () => {
    const { time, coordinator, page, workers, hello } = setup('bearer')
    await lostAfterWelcome(hello)
    // Before the backoff's try: the rotation (on the page's lock it could only re-authenticate or
    // end, while the worker may hold the family's RT) tries the worker at once.
    const rotation = coordinator.lock(async () => 'rotated', { refresh: true })
    const second = await hello(2)
    expect(page.counts.locks).toBe(0)
    second.welcome(active(4), true)
    await settle()
    expect(second.posted).not.toContainEqual({ w: 'bye' })
    expect(second.posted).toContainEqual(expect.objectContaining({ w: 'post', message: expect.objectContaining({ type: 'rotate-request' }) }))
    expect(page.counts.locks).toBe(0)
    // Unanswered past the queue's bound, it fails on the worker, never on the page's lock.
    time.advance(60_000)
    await expect(rotation).rejects.toThrow(/did not rotate/)
    expect(page.counts.locks).toBe(0)
    expect(workers).toHaveLength(2)
  })

  it('with cookies and no Web Locks, a rotation first tries the worker (a run another tab started), and is asked of it, not run on the page (sim seed 6626)', async () => {
    const { coordinator, page, hello } = setup('cookie')
    expect(normalizeOptions({ scope: 'https://app.test/okapi' }).platform.locks, 'this runtime has no Web Locks').toBeUndefined()
    await lostAfterWelcome(hello)
    // The page's lock is not the worker's: refreshing on it beside the new run would present
    // the jar's one cookie twice.
    const rotation = coordinator.lock(async () => 'rotated', { refresh: true })
    const second = await hello(2)
    second.welcome(active(4))
    await settle()
    expect(second.posted).not.toContainEqual({ w: 'bye' })
    expect(second.posted).toContainEqual(expect.objectContaining({ w: 'post', message: expect.objectContaining({ type: 'rotate-request' }) }))
    expect(page.counts.locks).toBe(0)
    void rotation.catch(() => undefined)
  })

  it('with bearer tokens and no Web Locks, a rotation of a tab holding an RT first tries the worker too, and a run holding a later grant of the login wins (sim seed 163513)', async () => {
    const { coordinator, page, heard, hello } = setup('bearer')
    expect(normalizeOptions({ scope: 'https://app.test/okapi' }).platform.locks, 'this runtime has no Web Locks').toBeUndefined()
    // The fallen-back pages shared a login by message; other tabs of it rejoined a new run with its RT, which rotated it.
    const { login, rotation, second } = await rotationHoldingRT(coordinator, hello)
    // Refreshing on the page's lock beside that run would present the RT the run had rotated.
    expect(page.counts.locks).toBe(0)
    second.welcome(active(6, { issuedAt: 20, login, accessToken: 'at-2' }), true)
    await settle()
    expect(second.posted).not.toContainEqual({ w: 'bye' })
    // The run's grant is the later one: the tab takes it and drops its own (spent) RT, asking nothing of the page.
    expect(second.posted.some(m => m['w'] === 'write' && (m['snapshot'] as Snapshot).refreshToken !== undefined)).toBe(false)
    expect(await rotation).toBe('rotated')
    const told = heard.filter(m => m.type === 'state').at(-1) as Extract<Message, { type: 'state' }>
    expect(told.snapshot).toMatchObject({ generation: 7, accessToken: 'at-2' })
    expect(told.snapshot.refreshToken).toBeUndefined()
    expect(page.counts.locks).toBe(0)
  })
  it("a user's logout the worker was lost on is asked of a new connection before the rejoin tells it the end (sim seed 177092)", async () => {
    const { coordinator, workers, hello } = setup('bearer')
    const first = await hello(1)
    first.welcome(active(3))
    await settle()
    const held = active(3, { accessToken: 'at-old' })
    const logout = coordinator.logout!(held)!
    expect(first.posted).toContainEqual(expect.objectContaining({ w: 'logout' }))
    // The run gave this frozen tab up and never answers it: the tab finds it lost.
    first.fail()
    const second = await hello(2)
    // The run holds a login another tab's form made there; the session has told the end meanwhile.
    void coordinator.write({ generation: 4, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'user' })
    second.welcome(active(5, { login: { id: 'form', at: 9 }, accessToken: 'at-new' }), true)
    await settle()
    const kinds = second.posted.map(m => m['w'])
    expect(kinds).toContain('logout')
    // The logout goes first: told the end first, the run would hold no session to revoke.
    expect(kinds).toContain('write')
    expect(kinds.indexOf('logout')).toBeLessThan(kinds.indexOf('write'))
    expect(second.posted.find(m => m['w'] === 'logout')).toMatchObject({ accessToken: 'at-old' })
    second.answerAll()
    // The session still calls the endpoint with what this tab holds, as it did.
    await expect(logout).rejects.toThrow()
    expect(workers).toHaveLength(2)
  })

  it('with bearer tokens and Web Locks too, a rotation of a tab holding an RT first tries the worker: a run another tab brought that RT to would present it after this tab (sim seed 180555)', async () => {
    // The page's coordinator is the test's; the locks are only there to be seen (the lock a rotation takes is the page's).
    const locks = { request: async () => undefined, query: async () => ({ held: [], pending: [] }) } as unknown as LockManager
    const { coordinator, page, hello } = setup('bearer', { platform: { locks } })
    const { login, rotation, second } = await rotationHoldingRT(coordinator, hello)
    expect(page.counts.locks).toBe(0)
    // The run holds the same login's RT, brought by a tab that rejoined while this one refreshed: this tab's later grant wins, and the run takes it.
    second.welcome(active(5, { issuedAt: 5, login, accessToken: 'at-0' }), true)
    await settle()
    expect(second.posted).toContainEqual(expect.objectContaining({ w: 'write', snapshot: expect.objectContaining({ generation: 6, refreshToken: 'rt-1' }) }))
    expect(page.counts.locks).toBe(0)
    void rotation.catch(() => undefined)
  })

  it("a rotation from a generation older than the welcome's adopts the worker's state: it asks the worker for no refresh (sim seed 16157)", async () => {
    const { coordinator, page, hello } = setup('cookie')
    await lostAfterWelcome(hello)
    // The tab's rotation is from generation 3; the worker it rejoins first already holds 4.
    const rotation = coordinator.lock(async () => 'adopted', { refresh: true, generation: 3 })
    const second = await hello(2)
    second.welcome(active(4))
    await settle()
    expect(await rotation).toBe('adopted')
    expect(second.posted.some(m => m['w'] === 'post' && (m['message'] as Message).type === 'rotate-request')).toBe(false)
    expect(page.counts.locks).toBe(0)
  })

  it("with cookies and no Web Locks, a tab holding the page's lock does not say hello to a worker until it lets go (its hello would start a run that rotates: sim seed 6478)", async () => {
    const { time, coordinator, page, workers, hello } = setup('cookie')
    await lostAfterWelcome(hello)
    await settle()
    // A lock that is not a rotation (no rejoin-first try), held on the page's coordinator.
    const held = page.hold()
    const lock = coordinator.lock(() => held)
    await settle()
    expect(page.counts.locks).toBe(1)
    time.advance(60_000)
    await settle()
    expect(workers).toHaveLength(1)
    page.release()
    await lock
    time.advance(60_000)
    const second = await hello(2)
    expect(second.posted.some(m => m['w'] === 'hello')).toBe(true)
  })

  it('with bearer tokens and no RT of its own, a rotation whose try of the worker fails runs on the page, as before', async () => {
    const { time, coordinator, page, hello } = setup('bearer')
    await lostAfterWelcome(hello)
    const rotation = coordinator.lock(async () => 'rotated', { refresh: true })
    await hello(2)
    time.advance(5_000)
    expect(await rotation).toBe('rotated')
    expect(page.counts.locks).toBe(1)
  })

  it('closed (the session disposed) while it waits to try again: no timer is left behind, and nothing is tried', async () => {
    const { time, coordinator, workers, hello } = setup()
    await lostAfterWelcome(hello)
    await settle()
    expect(time.pending()).toBeGreaterThan(0) // the try again
    coordinator.close()
    expect(time.pending()).toBe(0)
    time.advance(60_000)
    await settle()
    expect(workers).toHaveLength(1)
  })

  it('is not tried again when the worker refused it (other options): that answer would not change', async () => {
    const { time, fallbacks, workers, hello } = setup()
    const first = await hello(1)
    first.refuse()
    await settle()
    expect(fallbacks).toHaveLength(1)
    time.advance(120_000)
    await settle()
    expect(workers).toHaveLength(1)
  })

  it('notices a worker the browser killed although it asks nothing: a heartbeat ping left unanswered', async () => {
    const { time, fallbacks, hello } = setup()
    const first = await hello(1)
    first.welcome()
    await settle()
    time.advance(10_000)
    expect(first.posted.filter(m => m['w'] === 'ping')).toHaveLength(1)
    first.answerAll()
    time.advance(10_000)
    await settle()
    expect(fallbacks).toHaveLength(0)
    time.advance(3_000)
    await settle()
    expect(fallbacks).toEqual([expect.stringContaining('stopped answering')])
  })
})

describe('reconcile: the state a rejoining tab and the worker settle on', () => {
  const kit = { supersedes, outlives }
  const signedOut = (generation: number, reason: 'user' | 'rejected'): Snapshot => ({
    generation,
    status: 'signed-out',
    issuedAt: null,
    accessExpiresAt: null,
    refreshExpiresAt: null,
    reason,
  })
  it('the newer one, as everywhere', () => {
    expect(reconcile(active(4), active(3), 'cookie', kit)).toEqual(active(4))
    expect(reconcile(active(3), signedOut(4, 'user'), 'cookie', kit)).toEqual(signedOut(4, 'user'))
    expect(reconcile(undefined, active(3), 'cookie', kit)).toEqual(active(3))
  })
  it('cookies: a tab signed in while the worker ended on its own at the same count wins one above (the jar holds its login)', () => {
    expect(reconcile(active(8), signedOut(8, 'rejected'), 'cookie', kit)).toEqual(active(9))
    // The user's logout stands, and a bearer login the worker has no RT of is no case for it.
    expect(reconcile(active(8), signedOut(8, 'user'), 'cookie', kit)).toEqual(signedOut(8, 'user'))
    expect(reconcile(active(8), signedOut(8, 'rejected'), 'bearer', kit)).toEqual(signedOut(8, 'rejected'))
  })
  it("bearer: a tab holding the RT of another login (its form's, which the killed run never took) wins one above a run that ended on its own at the same count (sim seed 1962)", () => {
    const ended = { ...signedOut(5, 'rejected'), login: { id: 'old', at: 1 } }
    const form = active(5, { accessToken: 'at', refreshToken: 'rt', login: { id: 'form', at: 2 } })
    expect(reconcile(form, ended, 'bearer', kit)).toEqual({ ...form, generation: 6 })
    // Not the RT of the login that ended (the run presented it and was refused), nor over a logout, nor without an RT.
    expect(reconcile({ ...form, login: ended.login }, ended, 'bearer', kit)).toEqual(ended)
    expect(reconcile(form, { ...ended, reason: 'user' }, 'bearer', kit)).toEqual({ ...ended, reason: 'user' })
    expect(reconcile(active(5, { accessToken: 'at', login: { id: 'form', at: 2 } }), ended, 'bearer', kit)).toEqual(ended)
  })
  it("bearer: the AT of a tab without an RT wins, one above, over a worker holding no token at all (started from a page's memory: seed 189)", () => {
    const memory = active(9)
    expect(reconcile(active(9, { accessToken: 'at' }), memory, 'bearer', kit)).toEqual(active(10, { accessToken: 'at' }))
    // Not over a worker that holds tokens (its AT is as new), nor with cookies (the jar holds them).
    expect(reconcile(active(9, { accessToken: 'at' }), active(9, { accessToken: 'theirs' }), 'bearer', kit)).toEqual(active(9, { accessToken: 'theirs' }))
    expect(reconcile(active(9, { accessToken: 'at' }), memory, 'cookie', kit)).toEqual(memory)
  })
  it("bearer: not an older login's AT over a newer login's state (a form answered into the killed run, told to the page's store: sim `--worker --extended` seed 65199)", () => {
    const older = active(3, { accessToken: 'at-old', login: { id: 'old', at: 1 }, ending: 'rejected' })
    const newer = active(4, { login: { id: 'new', at: 2 } })
    expect(reconcile(older, newer, 'bearer', kit)).toEqual(newer)
    // Of the same login, the tab's AT goes as before.
    expect(reconcile({ ...older, login: newer.login! }, newer, 'bearer', kit)).toEqual({ ...older, login: newer.login, generation: 5 })
  })
  it('bearer: that AT goes even while the state is ending (its RT refused): the run takes the re-authentication over (seed 109805)', () => {
    // The run re-authenticating was killed; a new one started from a page's memory, the dying state without its AT.
    const dying = active(3, { ending: 'rejected' })
    expect(reconcile(active(3, { accessToken: 'at', ending: 'rejected' }), dying, 'bearer', kit)).toEqual(active(4, { accessToken: 'at', ending: 'rejected' }))
    // An RT of an ending state is no reason on its own (it was refused): with the run holding the AT too, the run's stands.
    const theirs = active(3, { accessToken: 'at', ending: 'rejected' })
    expect(reconcile(active(3, { accessToken: 'at', refreshToken: 'rt', ending: 'rejected' }), theirs, 'bearer', kit)).toEqual(theirs)
  })
  it("a user's logout on either side stands, whatever the other side counted meanwhile (one above both)", () => {
    // The worker's tabs logged out at 5; the tab that fell back rotated on its own to 9.
    for (const transport of ['cookie', 'bearer'] as const) {
      expect(reconcile(active(9), signedOut(5, 'user'), transport, kit)).toEqual(signedOut(10, 'user'))
      // The tab that fell back logged out at 4; the worker rotated on to 7.
      expect(reconcile(signedOut(4, 'user'), active(7), transport, kit)).toEqual(signedOut(8, 'user'))
    }
    // An end that was no logout is no such case: the newer state wins, as before.
    expect(reconcile(active(9), signedOut(5, 'rejected'), 'cookie', kit)).toEqual(active(9))
  })
  it('but not over a login made after it: that login stands, one above the logout where it counted less (sim `--worker --no-locks --extended` seed 94893)', () => {
    // The user logged out of login `old` at 100; login `new` was made at 200. A tab that slept through both rejoins with the logout.
    const logout = { ...signedOut(7, 'user'), login: { id: 'old', at: 50 }, endedAt: 100 }
    const login = active(9, { accessToken: 'at', login: { id: 'new', at: 200 } })
    for (const transport of ['cookie', 'bearer'] as const) {
      // Before: signedOut(10): every tab went signed out for a turn and dropped the new login's RT.
      expect(reconcile(logout, login, transport, kit)).toEqual(login)
      expect(reconcile(login, logout, transport, kit)).toEqual(login)
      expect(reconcile({ ...logout, generation: 12 }, login, transport, kit)).toEqual({ ...login, generation: 13 })
      expect(reconcile(login, { ...logout, generation: 12 }, transport, kit)).toEqual({ ...login, generation: 13 })
      // A logout of that very login, or one made after it, still stands.
      expect(reconcile({ ...logout, login: login.login! }, login, transport, kit)).toEqual({ ...logout, login: login.login, generation: 10 })
      expect(reconcile({ ...logout, endedAt: 300 }, login, transport, kit)).toEqual({ ...logout, endedAt: 300, generation: 10 })
    }
  })
})
