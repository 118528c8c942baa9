/**
 * rotor-auth/folio: `fromStripesConfig()` takes a Stripes app's configuration as it is
 * (stripes.config.js: `okapi`, `config.rtr` with `ms` duration strings) and gives session
 * options; a bad setting is a TypeError naming its key. The session it configures works
 * against the reference server (tenant header on the refresh call, the FOLIO routes).
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createSession } from '../../src/index.js'
import { fromStripesConfig, loginToFolio, parseDuration, STRIPES_RTR_DEFAULTS } from '../../src/folio/index.js'
import { cookieFetch } from '../../src/testing/index.js'
import { startEnv, type Env } from '../helpers/index.js'

/** A stripes.config.js as platform-complete ships it (trimmed of modules and branding). */
const stripesConfig = {
  okapi: { url: 'https://folio-snapshot-okapi.dev.folio.org/', tenant: 'diku' },
  config: {
    logCategories: 'core,path,action,xhr',
    logPrefix: '--',
    maxUnpagedResourceCount: 2000,
    showPerms: false,
    preserveConsole: true,
    useSecureTokens: true,
    rtr: {
      // how long may a session be idle before it is killed? default: 4h
      idleSessionTTL: '10m',
      // how long to show the "warning, session is idle" modal? default: 1m
      idleModalTTL: '2m',
      activityEvents: ['keydown', 'mousedown', 'wheel', 'touchstart', 'scroll'],
      // how long is the "your session will end!" warning shown? default: 1m
      fixedLengthSessionWarningTTL: '90 seconds',
    },
  },
  modules: {},
  branding: {},
}

describe('fromStripesConfig', () => {
  test('maps a real Stripes config: durations, events, tenant header, FOLIO routes', () => {
    const options = fromStripesConfig(stripesConfig)
    expect(options).toEqual({
      scope: 'https://folio-snapshot-okapi.dev.folio.org',
      transport: 'cookie',
      rotation: 'timer',
      refresh: { url: 'https://folio-snapshot-okapi.dev.folio.org/authn/refresh', style: 'folio' },
      logout: 'https://folio-snapshot-okapi.dev.folio.org/authn/logout',
      headers: { 'X-Okapi-Tenant': 'diku' },
      idle: { timeout: 600_000, warning: 120_000, activityEvents: ['keydown', 'mousedown', 'wheel', 'touchstart', 'scroll'] },
      sessionEnding: { warning: 90_000 },
    })
    // createSession takes it as it is (an unknown option would throw).
    createSession({ ...options, crossTab: false }).dispose()
  })

  test("missing or empty settings take stripes-core's defaults, as stripes-core does", () => {
    for (const rtr of [undefined, {}, { idleSessionTTL: '', idleModalTTL: null, activityEvents: [] }]) {
      const options = fromStripesConfig({ okapi: { url: 'https://okapi.example.org', tenant: 'fs09000000' }, config: { rtr: rtr as never } })
      expect(options.idle).toEqual({ timeout: 4 * 3_600_000, warning: 60_000, activityEvents: ['keydown', 'mousedown'] })
      expect(options.sessionEnding).toEqual({ warning: 60_000 })
    }
    expect(fromStripesConfig({ okapi: { url: 'https://o.example.org', tenant: 't' } }).idle).toMatchObject({ timeout: 14_400_000 })
    expect(STRIPES_RTR_DEFAULTS.idleSessionTTL).toBe('4h')
  })

  test('numbers are ms; rotationIntervalFraction becomes rotateAt', () => {
    const options = fromStripesConfig({
      okapi: { url: 'https://okapi.example.org', tenant: 'diku' },
      config: { rtr: { idleSessionTTL: 3_600_000, idleModalTTL: '30s', fixedLengthSessionWarningTTL: 45_000, rotationIntervalFraction: 0.5 } },
    })
    expect(options.idle).toMatchObject({ timeout: 3_600_000, warning: 30_000 })
    expect(options.sessionEnding).toEqual({ warning: 45_000 })
    expect(options.rotateAt).toBe(0.5)
  })

  test.each([
    ['idleSessionTTL', '4 hourz'],
    ['idleSessionTTL', '-1h'],
    ['idleModalTTL', 'soon'],
    ['fixedLengthSessionWarningTTL', '1 fortnight'],
    ['fixedLengthSessionWarningTTL', Number.NaN],
    ['idleModalTTL', 0],
  ])('a bad duration (%s: %s) is a TypeError naming the key', (key, value) => {
    const call = () => fromStripesConfig({ okapi: { url: 'https://o.example.org', tenant: 'diku' }, config: { rtr: { [key]: value } } })
    expect(call).toThrow(TypeError)
    expect(call).toThrow(`\`config.rtr.${key}\``)
  })

  test('other bad settings name their key too', () => {
    const okapi = { url: 'https://o.example.org', tenant: 'diku' }
    expect(() => fromStripesConfig({ okapi, config: { rtr: { idleSessionTTL: '1m', idleModalTTL: '2m' } } })).toThrow(/idleModalTTL.*shorter than.*idleSessionTTL/)
    expect(() => fromStripesConfig({ okapi, config: { rtr: { activityEvents: 'keydown' as never } } })).toThrow(/config\.rtr\.activityEvents/)
    expect(() => fromStripesConfig({ okapi, config: { rtr: { rotationIntervalFraction: 1.5 } } })).toThrow(/rotationIntervalFraction/)
    expect(() => fromStripesConfig({ okapi: { url: '', tenant: 'diku' } })).toThrow(/okapi\.url/)
    expect(() => fromStripesConfig({ okapi: { url: 'https://o.example.org' } as never })).toThrow(/okapi\.tenant/)
    expect(() => fromStripesConfig({} as never)).toThrow(/okapi: \{ url, tenant \}/)
  })

  test('parseDuration reads what ms reads', () => {
    expect(parseDuration('4h', 'k')).toBe(14_400_000)
    expect(parseDuration('1m', 'k')).toBe(60_000)
    expect(parseDuration('1.5h', 'k')).toBe(5_400_000)
    expect(parseDuration('90 seconds', 'k')).toBe(90_000)
    expect(parseDuration('250ms', 'k')).toBe(250)
    expect(parseDuration('500', 'k')).toBe(500)
    expect(parseDuration('2 Days', 'k')).toBe(172_800_000)
    expect(parseDuration(1234, 'k')).toBe(1234)
  })
})

describe('a session from a Stripes config, on the reference server', () => {
  let env: Env | undefined
  afterEach(() => env?.close())

  test('logs in with loginToFolio and rotates with the tenant header (the server counted it)', async () => {
    env = await startEnv({ accessTokenTtl: 60_000 })
    const jar = cookieFetch()
    const session = createSession({ ...fromStripesConfig({ ...stripesConfig, okapi: { url: `${env.url}/`, tenant: 'diku' } }), fetch: jar, crossTab: false })
    env.sessions.push(session)
    await loginToFolio(session, { okapiUrl: env.url, tenant: 'diku', username: 'diku_admin', password: 'admin', fetch: jar })
    expect(session.state.status).toBe('active')
    await session.rotate()
    expect((await session.fetch(`${env.url}/api/items`)).status).toBe(200)
    // The refresh went out with X-Okapi-Tenant (the server refuses it with 400 otherwise).
    expect(env.server.stats.refreshGranted).toBe(1)
    expect(env.server.stats.api200).toBe(1)
    expect(env.server.stats.logins).toBe(1)
  })
})
