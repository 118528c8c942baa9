/**
 * Two logins, one on each side of the rotation worker: a tab frozen while it connected fell back
 * to the page's coordinator and its user signed in there, while another tab signed in through the
 * worker (sim seed 1367 and six more). When the tab rejoins, the login started last is the session
 * in every tab, and the user's logout ends it at the server. Against the real hub (MessageChannel
 * ports in Node) and the reference server on 127.0.0.1; the worker part alone, message by message.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createSession, type Session, type SessionOptions } from '../../src/index.js'
import type { SharedWorkerLike } from '../../src/platform/types.js'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { normalizeOptions } from '../../src/core/options.js'
import { createHub, type Hub } from '../../src/worker/hub.js'
import { PROTOCOL_VERSION } from '../../src/worker/protocol.js'
import { workerConfig } from '../../src/worker/tab.js'
import { twoHolders } from '../../src/worker/two-logins.js'
import type { Snapshot } from '../../src/coordinator/types.js'
import { bearerLogin, bearerOptions } from '../helpers/session-env.js'
import { hubPort } from '../helpers/hub-port.js'

const active = (generation: number, extra: Partial<Snapshot> = {}): Snapshot => ({
  generation,
  status: 'active',
  issuedAt: 1_000,
  accessExpiresAt: 61_000,
  refreshExpiresAt: null,
  ...extra,
})

describe('twoHolders: a rejoining tab and the worker each hold an RT', () => {
  const mine = active(9, { accessToken: 'at-a', refreshToken: 'rt-a', login: { id: 'a', at: 100 } })
  const theirs = active(4, { accessToken: 'at-b', login: { id: 'b', at: 200 } })

  it('the login started last wins, one generation above both', () => {
    expect(twoHolders(mine, theirs)).toEqual({ ...theirs, generation: 10 })
    const later = { ...mine, login: { id: 'a', at: 300 } }
    expect(twoHolders(later, theirs)).toEqual({ ...later, generation: 10 })
  })

  it('of one login, the later grant (the other RT is the spent one)', () => {
    const same = { ...theirs, login: mine.login! }
    expect(twoHolders({ ...mine, issuedAt: 5_000 }, same)).toMatchObject({ accessToken: 'at-a', refreshToken: 'rt-a', generation: 10 })
    expect(twoHolders({ ...mine, issuedAt: 500 }, same)).toMatchObject({ accessToken: 'at-b', generation: 10 })
  })

  it("the worker's wins without both marks, and neither side settles while one is ending or signed out", () => {
    const { login: _, ...unmarked } = mine
    expect(twoHolders({ ...unmarked, issuedAt: 9_000 }, theirs)).toMatchObject({ accessToken: 'at-b' })
    const { login: __, ...theirsUnmarked } = theirs
    expect(twoHolders({ ...mine, login: { id: 'a', at: 9_999 } }, theirsUnmarked)).toMatchObject({ accessToken: 'at-b' })
    expect(twoHolders({ ...mine, ending: 'rejected' }, theirs)).toBeUndefined()
    expect(twoHolders(mine, { ...theirs, status: 'signed-out', reason: 'user' })).toBeUndefined()
  })
})

describe("the hub: a tab that yielded numbers the worker's state above its own", () => {
  let hub: Hub
  let received: Array<Record<string, unknown>>
  let say: (data: unknown) => void
  let config: ReturnType<typeof workerConfig>

  beforeEach(() => {
    hub = createHub('renumber-test')
    ;({ received, say } = hubPort(hub))
    const url = 'http://127.0.0.1:9'
    config = workerConfig(normalizeOptions({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/w.js`, rotation: 'request' } as SessionOptions))
    const held = active(3, { issuedAt: Date.now(), accessExpiresAt: Date.now() + 60_000, accessToken: 'at-3', refreshToken: 'rt-3', login: { id: 'b', at: 1 } })
    say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, stored: held, reauthenticates: false })
  })
  afterEach(() => hub.session?.dispose())

  const stored = () => received.filter(m => m['w'] === 'store').map(m => m['snapshot'] as Snapshot)
  const yielded = (generation: number, extra: Partial<Snapshot> = {}) =>
    active(generation, { issuedAt: Date.now(), accessExpiresAt: Date.now() + 60_000, accessToken: 'at-3', login: { id: 'b', at: 1 }, ...extra })

  it('keeps its tokens under the new generation, and its session adopts it', async () => {
    say({ w: 'write', id: 2, snapshot: yielded(10) })
    expect(stored().at(-1)).toMatchObject({ generation: 10, accessToken: 'at-3' })
    expect(stored().at(-1)).not.toHaveProperty('refreshToken')
    // The RT stays with the worker: a tab joining now is told so.
    const joining = hubPort(hub)
    joining.say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, reauthenticates: false })
    expect(joining.received).toContainEqual(expect.objectContaining({ w: 'welcome', rt: true, snapshot: expect.objectContaining({ generation: 10 }) }))
    await vi.waitFor(() => expect(hub.session?.state).toMatchObject({ status: 'active', generation: 10 }))
  })

  it('one generation more where it rotated meanwhile (the tab takes the new AT)', () => {
    say({ w: 'write', id: 2, snapshot: yielded(10, { accessToken: 'at-older' }) })
    expect(stored().at(-1)).toMatchObject({ generation: 11, accessToken: 'at-3' })
  })

  it("not another login's state, not one behind or far ahead: those are refused as before", () => {
    say({ w: 'write', id: 2, snapshot: yielded(10, { login: { id: 'a', at: 2 } }) })
    say({ w: 'write', id: 3, snapshot: yielded(2) })
    say({ w: 'write', id: 4, snapshot: yielded(3 + 2 ** 21) })
    expect(stored()).toEqual([])
  })
})

describe('the hub: a tab brings the RT of the state it holds without one (a killed run took it, another tab rejoined first with the AT)', () => {
  let hub: Hub
  let received: Array<Record<string, unknown>>
  let say: (data: unknown) => void
  let held: Snapshot

  beforeEach(() => {
    hub = createHub('rt-brought-test')
    ;({ received, say } = hubPort(hub))
    const url = 'http://127.0.0.1:9'
    const config = workerConfig(normalizeOptions({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/w.js`, rotation: 'request' } as SessionOptions))
    held = active(2, { issuedAt: Date.now(), accessExpiresAt: Date.now() + 60_000, accessToken: 'at-2', login: { id: 'b', at: 1 } })
    say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, stored: held, reauthenticates: false })
  })
  afterEach(() => hub.session?.dispose())

  const stored = () => received.filter(m => m['w'] === 'store').map(m => m['snapshot'] as Snapshot)

  it("that state goes one generation up with it, told to every tab and the worker's session, which adopts it (sim `--worker --no-locks --extended` seed 24733)", async () => {
    say({ w: 'write', id: 2, snapshot: { ...held, refreshToken: 'rt-2' } })
    expect(stored().at(-1)).toMatchObject({ generation: 3, accessToken: 'at-2' })
    expect(stored().at(-1)).not.toHaveProperty('refreshToken')
    // The writer too: it wrote generation 2.
    expect(received).toContainEqual(
      expect.objectContaining({ w: 'message', message: expect.objectContaining({ type: 'state', snapshot: expect.objectContaining({ generation: 3 }) }) }),
    )
    // Before: stored at generation 2, a generation the worker's session already held without the RT: it never took it.
    await vi.waitFor(() => expect(hub.session?.state).toMatchObject({ status: 'active', generation: 3 }))
  })

  it("not another grant's RT (another AT at that generation): stored as it came, numbered as it came", () => {
    say({ w: 'write', id: 2, snapshot: { ...held, accessToken: 'at-other', refreshToken: 'rt-other' } })
    expect(stored().map(s => s.generation)).toEqual([2])
  })
})

/**
 * The origin's SharedWorker: the first connect's worker never answers (the page froze while it
 * connected: the tab falls back after CONNECT_TIMEOUT_MS); every later one reaches the real hub.
 */
function firstConnectHangs() {
  const hub = createHub('two-logins-test')
  const ports: MessagePort[] = []
  let connects = 0
  const sharedWorker = (): SharedWorkerLike => {
    const { port1, port2 } = new MessageChannel()
    ports.push(port1, port2)
    if (connects++ > 0) hub.connect(port2 as never)
    return { port: port1, addEventListener: () => undefined }
  }
  return { hub, sharedWorker, close: () => (hub.session?.dispose(), ports.forEach(port => port.close())) }
}

describe('a tab that fell back and signed in, and a tab that signed in through the worker', () => {
  let server: AuthServer
  let url = ''
  let closeServer: () => Promise<void>
  let worker: ReturnType<typeof firstConnectHangs>
  const sessions: Session[] = []

  beforeEach(async () => {
    server = createAuthServer({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000 })
    ;({ url, close: closeServer } = await server.listen())
    worker = firstConnectHangs()
  })
  afterEach(async () => {
    for (const session of sessions.splice(0)) session.dispose()
    worker.close()
    await closeServer()
  })

  const tab = () => {
    const options = { ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/rotor-worker.js`, rotation: 'request', refreshTimeout: 1_000 }
    // The script is served (a 404 would make the tab give the worker up rather than try it again).
    const served = (input: RequestInfo | URL, init?: RequestInit) =>
      String(input).endsWith('/rotor-worker.js') ? Promise.resolve(new Response('')) : globalThis.fetch(input, init)
    const session = createSession({ ...options, platform: { sharedWorker: worker.sharedWorker, fetch: () => served } } as SessionOptions)
    sessions.push(session)
    return session
  }
  type Pair = { accessToken: string; refreshToken: string }
  const pair = async () => (await (await bearerLogin(url)).json()) as Pair
  const refreshes = async (rt: string) =>
    (await fetch(`${url}/bearer/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: rt }) })).status

  /** Tab `a` connects first (and falls back); `first` says whose start() the user called first. */
  async function twoLogins(first: 'fallen-back' | 'worker') {
    const a = tab()
    const b = tab()
    const [pa, pb] = [await pair(), await pair()]
    const starts = first === 'fallen-back' ? [() => a.start(pa), () => b.start(pb)] : [() => b.start(pb), () => a.start(pa)]
    const first_ = starts[0]!()
    await new Promise(resolve => setTimeout(resolve, 5))
    await Promise.all([first_, starts[1]!()])
    // a falls back after 5 s, rejoins about a second later: both then hold one generation, one login.
    await vi.waitFor(() => expect([a.state.generation > 1, a.state.generation]).toEqual([true, b.state.generation]), { timeout: 12_000, interval: 50 })
    expect([a.state.status, b.state.status]).toEqual(['active', 'active'])
    return { a, b, pa, pb }
  }

  /** Whether the server still takes the login's AT: false once its family was logged out. */
  const live = async (p: Pair) => (await server.verifyAccessToken(p.accessToken)) !== undefined

  it("the worker's login, started last, is the session in both tabs; the logout ends it at the server", async () => {
    const { a, b, pa, pb } = await twoLogins('fallen-back')
    expect((await a.fetch(`${url}/api/ping`)).status).toBe(200)
    await a.logout()
    expect([a.state.status, b.state.status]).toEqual(['signed-out', 'signed-out'])
    // The session (b's login, whose RT the worker holds) is dead; a's own login was dropped, not revoked.
    expect(await live(pb)).toBe(false)
    expect(await refreshes(pb.refreshToken)).toBe(401)
    expect(await live(pa)).toBe(true)
  }, 20_000)

  it("the fallen-back tab's login, started last, is the session in both tabs: the worker takes its RT", async () => {
    const { a, b, pa, pb } = await twoLogins('worker')
    const before = server.log.filter(e => e.route === 'refresh').length
    await b.rotate()
    // One refresh, presenting a's RT, live: the worker holds a's login now.
    const refreshed = server.log.filter(e => e.route === 'refresh').slice(before)
    expect(refreshed.map(e => [e.status, e.reused ?? false])).toEqual([[201, false]])
    expect((await a.fetch(`${url}/api/ping`)).status).toBe(200)
    await b.logout()
    expect(await live(pa)).toBe(false)
    expect(server.stats.reusedRefused).toBe(0)
    // b's own login was dropped, not revoked.
    expect(await live(pb)).toBe(true)
  }, 20_000)
})

/**
 * Two tabs write two logins at one generation: both signed in at once, or one frozen while its
 * login was on its way numbered it from the state before the other's (sim seed 110990). The hub
 * stored the second while its session kept the first, and the logout left the login started last
 * live. The real hub and the reference server; the tabs' ports driven message by message.
 */
describe('the hub: two tabs write two logins at one generation', () => {
  let server: AuthServer
  let url = ''
  let closeServer: () => Promise<void>
  let hub: Hub

  beforeEach(async () => {
    server = createAuthServer({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000 })
    ;({ url, close: closeServer } = await server.listen())
    hub = createHub('tie-test')
  })
  afterEach(async () => {
    hub.session?.dispose()
    await closeServer()
  })

  type Pair = { accessToken: string; refreshToken: string }
  const pair = async () => (await (await bearerLogin(url)).json()) as Pair
  const login = (generation: number, p: Pair, id: string, at: number): Snapshot =>
    active(generation, { issuedAt: Date.now(), accessExpiresAt: Date.now() + 60_000, refreshExpiresAt: Date.now() + 600_000, ...p, login: { id, at } })
  const live = async (p: Pair) => (await server.verifyAccessToken(p.accessToken)) !== undefined

  /** Tab 1 signs in (`first`, its write and its post, as a page's session does); then tab 2 writes `second` at `generation`. */
  async function race(first: { pair: Pair; at: number }, second: { pair: Pair; at: number; generation: number }) {
    const config = workerConfig(normalizeOptions({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/w.js`, rotation: 'request' } as SessionOptions))
    const [one, two] = [hubPort(hub), hubPort(hub)]
    one.say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, reauthenticates: false })
    two.say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, reauthenticates: false })
    const firstState = login(1, first.pair, 'first', first.at)
    one.say({ w: 'write', id: 2, snapshot: firstState })
    one.say({ w: 'post', message: { type: 'state', snapshot: firstState } })
    await vi.waitFor(() => expect(hub.session?.state).toMatchObject({ status: 'active', generation: 1 }))
    two.say({ w: 'write', id: 2, snapshot: login(second.generation, second.pair, 'second', second.at) })
    const told = (port: ReturnType<typeof hubPort>) =>
      port.received.filter(m => m['w'] === 'message' && (m['message'] as { type: string }).type === 'state').map(m => (m['message'] as { snapshot: Snapshot }).snapshot)
    return { one: told(one), two: told(two) }
  }

  /** The worker's session rotates once and logs out: which RT it presented, and which logins the server still takes. */
  async function rotateAndLogout(winner: Pair, loser: Pair) {
    const before = server.log.filter(e => e.route === 'refresh').length
    await hub.session!.rotate()
    expect(
      server.log
        .filter(e => e.route === 'refresh')
        .slice(before)
        .map(e => [e.status, e.reused ?? false]),
    ).toEqual([[201, false]])
    // Presenting the loser's RT would have been refused: the winner's family rotated, the loser's is as it was.
    expect(await live(loser)).toBe(true)
    await hub.session!.logout()
    // The winner's login (rotated since) is ended at the server; the loser was dropped, not revoked.
    expect(await live(winner)).toBe(false)
    expect(server.stats.reusedRefused).toBe(0)
  }

  it('the later login, written second at the same generation, wins one above in both tabs and the worker', async () => {
    const [p1, p2] = [await pair(), await pair()]
    const told = await race({ pair: p1, at: 1_000 }, { pair: p2, at: 2_000, generation: 1 })
    for (const tab of [told.one, told.two]) expect(tab.at(-1)).toMatchObject({ generation: 2, accessToken: p2.accessToken, login: { id: 'second' } })
    for (const tab of [told.one, told.two]) expect(tab.at(-1)).not.toHaveProperty('refreshToken')
    await vi.waitFor(() => expect(hub.session?.state).toMatchObject({ status: 'active', generation: 2 }))
    await rotateAndLogout(p2, p1)
  })

  it('numbered behind the other (its tab was frozen), the later login still wins', async () => {
    const [p1, p2] = [await pair(), await pair()]
    const told = await race({ pair: p1, at: 1_000 }, { pair: p2, at: 2_000, generation: 0 })
    expect(told.two.at(-1)).toMatchObject({ generation: 2, accessToken: p2.accessToken })
    await vi.waitFor(() => expect(hub.session?.state).toMatchObject({ generation: 2 }))
    await rotateAndLogout(p2, p1)
  })

  it('an earlier login written second loses: the held one goes one above, and its writer is told', async () => {
    const [p1, p2] = [await pair(), await pair()]
    const told = await race({ pair: p1, at: 2_000 }, { pair: p2, at: 1_000, generation: 1 })
    expect(told.two.at(-1)).toMatchObject({ generation: 2, accessToken: p1.accessToken, login: { id: 'first' } })
    await vi.waitFor(() => expect(hub.session?.state).toMatchObject({ generation: 2 }))
    await rotateAndLogout(p1, p2)
  })
})
