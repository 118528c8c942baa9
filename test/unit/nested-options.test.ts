/**
 * Issue 25 item 11: nested options and events are checked like top-level ones. A misspelt key
 * inside `idle`, `refresh`, `sessionEnding` or Stripes' `config.rtr` is a TypeError with "did
 * you mean"; messages show Infinity, NaN and a missing value as such; on() checks its event
 * name and listener at the call.
 */
import { describe, expect, test } from 'vitest'
import { createSession, isRotorError } from '../../src/index.js'
import { fromStripesConfig, parseDuration } from '../../src/folio/index.js'
import { normalizeOptions } from '../../src/core/options.js'
import { shown } from '../../src/utils/option-errors.js'

const scope = 'https://api.example.org'

/** The TypeError `call` throws, checked to be a coded one. */
function thrown(call: () => unknown): TypeError & { code?: string } {
  try {
    call()
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError)
    expect(isRotorError(error)).toBe(true)
    return error as TypeError & { code?: string }
  }
  throw new Error('expected a TypeError')
}

describe('misspelt nested keys are rejected with "did you mean"', () => {
  test.each([
    ['idle', { idle: { timout: 60_000 } }, 'idle.timout', 'idle.timeout'],
    ['idle', { idle: { timeout: 60_000, warnig: 1000 } }, 'idle.warnig', 'idle.warning'],
    ['idle', { idle: { timeout: 60_000, activityEvent: ['keydown'] } }, 'idle.activityEvent', 'idle.activityEvents'],
    ['refresh', { refresh: { url: `${scope}/token`, styel: 'oauth2' } }, 'refresh.styel', 'refresh.style'],
    ['refresh', { refresh: { url: `${scope}/token`, clientID: 'app' } }, 'refresh.clientID', 'refresh.clientId'],
    ['sessionEnding', { sessionEnding: { warnign: 60_000 } }, 'sessionEnding.warnign', 'sessionEnding.warning'],
  ])('%s: %j', (_where, options, typo, meant) => {
    const error = thrown(() => normalizeOptions({ scope, ...options } as never))
    expect(error.code).toBe('ERR_INVALID_OPTION')
    expect(error.message).toContain(`unknown option \`${typo}\` (did you mean \`${meant}\`?)`)
  })

  test("Stripes' config.rtr: idleSesionTTL no longer silently becomes the 4 h default", () => {
    const error = thrown(() => fromStripesConfig({ okapi: { url: scope, tenant: 'diku' }, config: { rtr: { idleSesionTTL: '15m' } as never } }))
    expect(error.code).toBe('ERR_INVALID_OPTION')
    expect(error.message).toContain('`config.rtr.idleSesionTTL` (did you mean `config.rtr.idleSessionTTL`?)')
  })

  test('config.rtr keys nowhere near the known ones are left alone, as stripes-core leaves them', () => {
    const options = fromStripesConfig({ okapi: { url: scope, tenant: 'diku' }, config: { rtr: { idleSessionTTL: '15m', someFutureSetting: true } as never } })
    expect(options.idle).toMatchObject({ timeout: 15 * 60_000 })
  })
})

describe('messages show the value as the user wrote it', () => {
  test.each([
    [{ queueTimeout: Number.POSITIVE_INFINITY }, 'got Infinity'],
    [{ refreshTimeout: Number.NaN }, 'got NaN'],
    [{ leeway: Number.NEGATIVE_INFINITY }, 'got -Infinity'],
    [{ idle: { timeout: Number.NaN } }, 'got NaN'],
    [{ idle: { timeout: undefined } }, 'got undefined'],
    [{ sessionEnding: {} }, 'got undefined'],
    [{ sessionEnding: { warning: Number.POSITIVE_INFINITY } }, 'got Infinity'],
    [{ rotateAt: Number.NaN }, 'got NaN'],
  ])('%j → %s', (options, text) => {
    expect(thrown(() => normalizeOptions({ scope, ...options } as never)).message).toContain(text)
  })

  test('folio durations too', () => {
    expect(thrown(() => parseDuration(Number.NaN, 'config.rtr.idleSessionTTL')).message).toContain('got NaN')
    expect(thrown(() => parseDuration(Number.POSITIVE_INFINITY, 'config.rtr.idleSessionTTL')).message).toContain('got Infinity')
    expect(thrown(() => parseDuration('', 'config.rtr.idleSessionTTL')).message).toContain('got ""')
  })

  test('shown(): inside objects too, never throwing', () => {
    expect(shown({ timeout: Number.POSITIVE_INFINITY, warning: undefined })).toBe('{"timeout":Infinity,"warning":undefined}')
    expect(shown(undefined)).toBe('undefined')
    expect(shown(10n)).toBe('10')
    const circular: Record<string, unknown> = {}
    circular['self'] = circular
    expect(shown(circular)).toBe('object')
  })
})

describe('on() checks its arguments at the call', () => {
  const session = createSession({ scope, crossTab: false })
  test('an unknown event name is a TypeError naming the likely one', () => {
    const error = thrown(() => session.on('rotate_error' as never, () => undefined))
    expect(error.code).toBe('ERR_USAGE')
    expect(error.message).toContain("did you mean 'rotate-error'")
  })
  test('a listener that is not a function is a TypeError at the call', () => {
    expect(thrown(() => session.on('logout', undefined as never)).message).toContain('listener must be a function, got undefined')
  })
  test('every documented event is accepted', () => {
    for (const event of [
      'change',
      'rotate',
      'rotate-error',
      'logout',
      'idle-warning',
      'storage-error',
      'dispose',
      'idle-resume',
      'session-ending',
      'worker-fallback',
    ] as const) {
      session.on(event, () => undefined)()
    }
  })
})
