/**
 * The worker session's options (src/worker/hub-config.ts): what a port posts in its hello is
 * checked for shape, and a bad one is refused with a code while the hub goes on serving the
 * other pages; the Config the hub builds without the page's validator is the one
 * normalizeOptions builds (the worker's script runs configOf in its place, tsup.config.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createPlatform } from '../../src/platform/defaults.js'
import { createSession } from '../../src/session.js'
import { normalizeOptions, type Config } from '../../src/core/options.js'
import { checkWorkerConfig, configOf } from '../../src/worker/hub-config.js'
import { createHub } from '../../src/worker/hub.js'
import { PROTOCOL_VERSION, type WorkerConfig } from '../../src/worker/protocol.js'
import { startWorkerSession } from '../../src/worker/hub-session.js'
import { createAuthServer } from '../../src/testing/index.js'
import type { Coordinator } from '../../src/types.js'
import { bearerLogin } from '../helpers/session-env.js'

// The session hub-session.ts starts, spied on to read the options it was given.
vi.mock('../../src/session.js', async original => {
  const real = await original<typeof import('../../src/session.js')>()
  return { ...real, createSession: vi.fn(real.createSession) }
})

const GOOD: WorkerConfig = {
  transport: 'bearer',
  rotation: 'request',
  refresh: { url: 'http://127.0.0.1:1/bearer/refresh', style: 'json' },
  logout: 'http://127.0.0.1:1/bearer/logout',
  headers: [['x-okapi-tenant', 'diku']],
  rotateAt: 0.8,
  refreshTimeout: 1_000,
  refreshRetries: 0,
  queueTimeout: 1_000,
}

/** Each a config a forged or older page might post, and the key the refusal must name. */
const BAD: Array<[name: string, config: unknown, key: string]> = [
  ['no object', 'cookie', 'config'],
  ['a transport of another version', { ...GOOD, transport: 'dpop' }, 'config.transport'],
  ['a rotateAt as text', { ...GOOD, rotateAt: 'soon' }, 'config.rotateAt'],
  ['a relative refresh URL', { ...GOOD, refresh: { url: '/refresh', style: 'json' } }, 'config.refresh'],
  ['a refresh style of another version', { ...GOOD, refresh: { url: GOOD.refresh.url, style: 'saml' } }, 'config.refresh'],
  ['a logout that is neither URL nor false', { ...GOOD, logout: true }, 'config.logout'],
  ['headers as an object', { ...GOOD, headers: { a: 'b' } }, 'config.headers'],
  ['a header name no Headers takes', { ...GOOD, headers: [['a b', 'c']] }, 'config.headers'],
  ['an infinite refreshTimeout', { ...GOOD, refreshTimeout: Infinity }, 'config.refreshTimeout'],
  ['a queueTimeout of 0', { ...GOOD, queueTimeout: 0 }, 'config.queueTimeout'],
  ['refreshRetries of 1.5', { ...GOOD, refreshRetries: 1.5 }, 'config.refreshRetries'],
  ['a negative leeway', { ...GOOD, leeway: -1 }, 'config.leeway'],
  ['a dpop alg the worker cannot sign with', { ...GOOD, dpop: { alg: 'RS256', key: 'k' } }, 'config.dpop'],
]

describe('checkWorkerConfig', () => {
  it('passes what a page of this version sends', () => {
    expect(checkWorkerConfig(GOOD)).toBe(GOOD)
    const more = { ...GOOD, logout: false, leeway: 0, refresh: { ...GOOD.refresh, clientId: 'app' }, dpop: { alg: 'ES256', key: 'rotor-auth:x' } }
    expect(checkWorkerConfig(more)).toBe(more)
  })

  it.each(BAD)('refuses %s with ERR_INVALID_OPTION naming the key', (_, config, key) => {
    expect(() => checkWorkerConfig(config)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining(`${key} is not as a page of this version sends it`) }),
    )
  })
})

describe('configOf, the Config the worker builds without the page validator', () => {
  const member: Coordinator = {
    read: () => undefined,
    write: () => undefined,
    lock: fn => fn(),
    post: () => undefined,
    subscribe: () => () => undefined,
    isLeader: () => true,
    hasPeers: () => true,
    close: () => undefined,
  }
  /** What the two may differ in: objects made afresh (compared by what they hold) and what only the page uses (never read in the worker: configOf has no `scope`). */
  const OMIT = ['scope', 'platform', 'now', 'channelName', 'storageKey', 'storage']
  const comparable = (cfg: Config) =>
    Object.fromEntries(
      Object.keys(cfg).map(key => {
        const value = OMIT.includes(key) ? 'omitted' : cfg[key as keyof Config]
        return [key, value instanceof Headers ? [...value] : value === member ? 'member' : value]
      }),
    )

  it.each<[string, WorkerConfig]>([
    ['bearer, request rotation, a logout URL', GOOD],
    [
      'cookie, timer rotation, no logout, leeway and clientId',
      { ...GOOD, transport: 'cookie', rotation: 'timer', logout: false, leeway: 250, refresh: { ...GOOD.refresh, style: 'folio', clientId: 'app' } },
    ],
  ])('%s: what normalizeOptions makes of the options hub-session.ts gives its session', (_, config) => {
    vi.mocked(createSession).mockClear()
    const built = startWorkerSession({ config, member, reauthenticate: async () => undefined, platform: createPlatform() })
    built.session.dispose()
    const options = vi.mocked(createSession).mock.calls[0]![0]
    expect(comparable(built.cfg)).toEqual(comparable(normalizeOptions(options)))
    expect(comparable(configOf(options))).toEqual(comparable(built.cfg))
    expect(built.cfg.scope).toBeUndefined()
  })
})

describe('a page that posts bad options to the hub', () => {
  const closers: Array<() => void | Promise<void>> = []
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close()
  })

  /** A port of any page of the origin on `hub`, recording what the hub answers. */
  function port(hub: ReturnType<typeof createHub>) {
    const { port1, port2 } = new MessageChannel()
    closers.push(() => (port1.close(), port2.close()))
    hub.connect(port2 as never)
    const received: Array<Record<string, unknown>> = []
    port1.onmessage = event => received.push(event.data as Record<string, unknown>)
    return { send: (m: unknown) => port1.postMessage(m), received }
  }

  it('is refused, coded and naming the key, and the hub goes on: the next page is welcomed and its session rotates on the server', async () => {
    const server = createAuthServer({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000 })
    const { url, close } = await server.listen()
    closers.push(close)
    const hub = createHub('bad-options')
    closers.push(() => hub.session?.dispose())
    const forger = port(hub)
    BAD.forEach(([, config], i) => forger.send({ w: 'hello', id: i + 1, version: PROTOCOL_VERSION, reauthenticates: false, config }))
    await vi.waitFor(() => expect(forger.received).toHaveLength(BAD.length))
    expect(forger.received).toEqual(
      BAD.map(([, , key], i) => ({
        w: 'refused',
        id: i + 1,
        code: 'ERR_INVALID_OPTION',
        reason: expect.stringContaining(`${key} is not as a page of this version sends it`),
      })),
    )
    expect(hub.session, 'no session started on garbage').toBeUndefined()

    const page = port(hub)
    const config: WorkerConfig = { ...GOOD, refresh: { url: `${url}/bearer/refresh`, style: 'json' }, logout: `${url}/bearer/logout`, headers: [] }
    page.send({ w: 'hello', id: 1, version: PROTOCOL_VERSION, reauthenticates: false, config })
    await vi.waitFor(() => expect(page.received).toEqual([expect.objectContaining({ w: 'welcome', id: 1 })]))
    await hub.session!.start(await bearerLogin(url))
    await hub.session!.rotate()
    expect(server.stats.refreshGranted, 'the worker refreshed once, with the options of the page it welcomed').toBe(1)
    expect(server.stats.reusedRefused).toBe(0)
  })
})
