/**
 * Vitest setup file (node project): records every token the reference server mints, every
 * event any rotor-auth emitter sends, every rotor-auth error constructed and every console
 * line, and fails the test file in afterAll if any of them contains token text (issue 26,
 * "no token in any error or event"). It hooks the source modules the tests themselves run, so src carries no hook.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, inject } from 'vitest'
import { RotorError, RotorTypeError } from '../../src/errors.js'
import { AuthModel } from '../../src/testing/model.js'
import { Emitter } from '../../src/utils/emitter.js'
import { currentScan, describeHits, type Origin } from './token-scan.js'

const origin = (kind: string): Origin => ({ kind, test: expect.getState().currentTestName ?? '(outside a test: a hook of the file)' })

const HOOKED = Symbol.for('rotor-auth.token-scan.hooked')
const hooked = (target: object) => {
  const seen = (target as { [HOOKED]?: true })[HOOKED] === true
  ;(target as { [HOOKED]?: true })[HOOKED] = true
  return seen
}

// Every token the reference server issues (login, refresh, `issue()`) goes through mint().
type Mint = (...args: unknown[]) => Promise<{ accessToken: string; refreshToken: string }>
const model = AuthModel.prototype as unknown as { mint: Mint }
if (!hooked(model)) {
  const mint = model.mint
  model.mint = async function (this: unknown, ...args: unknown[]) {
    const minted = await mint.apply(this, args)
    currentScan().addToken(minted.accessToken, 'AT')
    currentScan().addToken(minted.refreshToken, 'RT')
    return minted
  }
}

// Every event: the session machine (its public and private emits both end here), sockets and SSE.
if (!hooked(Emitter.prototype)) {
  const emit = Emitter.prototype.emit
  Emitter.prototype.emit = function (this: Emitter<Record<string, unknown>>, event: string, payload: unknown) {
    currentScan().recordEvent(origin(`event '${event}'`), payload)
    return emit.call(this, event, payload)
  } as typeof emit
}

/*
 * Every rotor-auth error, thrown, rejected or carried: a derived class's `super()` calls
 * whatever its constructor's prototype is at that moment, so putting a recording class
 * between RotorError (and RotorTypeError) and the built-in Error sees each construction
 * without changing what `instanceof` answers (the instances' prototypes are untouched).
 * The error is kept by reference and read at the end, once its subclass set `body`, `status`…
 */
for (const [base, Builtin] of [
  [RotorError, Error],
  [RotorTypeError, TypeError],
] as const) {
  if (hooked(base)) continue
  const Recording = class extends Builtin {
    constructor(...args: ConstructorParameters<typeof Error>) {
      super(...args)
      currentScan().recordError(origin(`error ${new.target.name}`), this)
    }
  }
  Object.setPrototypeOf(base, Recording)
}

// Every log line (src logs nothing today; a warning added later is covered from its first day).
// `console` may outlive this file's modules (a worker reused without isolation): the wrapper,
// installed once, calls whatever recorder the latest setup run put in the global slot.
const RECORD_LINE = Symbol.for('rotor-auth.token-scan.console')
type Slot = { [RECORD_LINE]?: (method: string, args: unknown[]) => void }
;(globalThis as Slot)[RECORD_LINE] = (method, args) => currentScan().recordEvent(origin(`console.${method}`), args)
for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
  if ((console[method] as { [HOOKED]?: true })[HOOKED]) continue
  const original = console[method]
  const recording = (...args: unknown[]) => {
    ;(globalThis as Slot)[RECORD_LINE]?.(method, args)
    original.apply(console, args)
  }
  hooked(recording)
  console[method] = recording
}

afterAll(() => {
  const scan = currentScan()
  const hits = scan.check()
  const dir = inject('tokenScanDir' as never) as string | undefined
  if (dir) {
    mkdirSync(dir, { recursive: true })
    const file = expect.getState().testPath ?? 'unknown'
    writeFileSync(
      join(dir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`),
      JSON.stringify({ file, payloads: scan.payloadsRecorded, tokens: scan.tokensKnown, hits: hits.length }),
    )
  }
  if (hits.length > 0) throw new Error(`token scan: ${hits.length} error(s)/event(s) carry token text:\n${describeHits(hits)}`)
})
